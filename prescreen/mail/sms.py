"""Texts (SMS) to a family's mainland mobile: the templates, and the backends that deliver them.

An SMS row in the outbox (see migration m0020) holds a number, a template key and the template's
parameters, never text: the words are the provider's approved template, the same for everyone, so
no SMS can carry health data, a child's name or a study's illness, and none promotes a study
(volunteer notices stay e-mail). Every parameter must match its fixed shape (:data:`PARAM_SHAPES`)
before a row is queued and again before it is sent.

Backends, by ``SMS_BACKEND``:

- ``file`` (the default): one ``<outbox id>.json`` per row under ``<instance>/sms/``, with the text
  rendered so a person can read what would have gone out; written atomically and named by row, so a
  row sent again after a crash overwrites its file and never duplicates it.
- ``tencent``: Tencent Cloud SMS (``SendSms``, API 2021-01-11) through its official Python SDK, with
  the signature, SDK app id and template ids from configuration. ``SMS_ENDPOINT`` points the SDK
  elsewhere (the tests' loopback server); unset, the SDK's own endpoint is used.

Provider errors are sorted into "try again later" (throttles, the provider's own faults, our
account or configuration: fixable, so nothing is dropped) and "never" (a number that cannot take a
text, or parameters the template refuses): :func:`classify`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import phonenumbers

from .failures import PermanentFailure, TemporaryFailure

#: A mainland mobile in E.164: +86 then 11 digits starting with 1.
MAINLAND_MOBILE_RE = re.compile(r"^\+861[3-9][0-9]{9}$")

#: Every parameter any template may carry, and the only shape its value may take. A value that is
#: not one of these shapes (a name, a sentence, an answer) can never reach a text.
PARAM_SHAPES: dict[str, re.Pattern[str]] = {
    "reference": re.compile(r"^PS-[A-Z0-9]{6}$"),  # the referral's reference code
    "days": re.compile(r"^[1-9][0-9]?$"),  # "within N working days"
    "phone": re.compile(r"^\+?[0-9][0-9 -]{2,22}[0-9]$"),  # the study team's number, as configured
    "code": re.compile(r"^[0-9a-f]{20}$"),  # the opaque study code of /volunteer/again/<code>
}


@dataclass(frozen=True)
class SmsTemplate:
    """One transactional template: its parameters in the provider's order ({1}, {2} …) and its words.

    ``text`` is what the hospital submits for review at the provider, with ``{name}`` where the
    provider's template has ``{1}``, ``{2}`` …; ``{site}`` is the site's own address, fixed in the
    submitted template (Tencent refuses links in parameters, ProhibitedUseUrlInTemplateParameter).
    The provider puts the 【signature】 in front.
    """

    key: str
    params: tuple[str, ...]
    text: Mapping[str, str]


TEMPLATES: dict[str, SmsTemplate] = {
    template.key: template
    for template in (
        SmsTemplate(
            key="recheck-reminder",
            params=("code",),
            text={
                "zh": "您好，您之前预约了今天的提醒：现在可以再做一次研究初筛了。"
                "请打开 {site}/volunteer/again/{code} 。如已不需要，请忽略本短信。",
                "en": "Hello. You asked us to remind you today: you can now check again whether your child "
                "can join a study. Open {site}/volunteer/again/{code} . "
                "If you no longer need this, please ignore this message.",
            },
        ),
        SmsTemplate(
            key="referral-receipt",
            params=("reference", "days", "phone"),
            text={
                "zh": "您的信息已发送给研究团队，编号{reference}。研究团队将在{days}个工作日内用{phone}"
                "给您打电话，请留意接听，通话时请报上编号。",
                "en": "Your details have reached the study team. Your reference is {reference}. "
                "The team will call you within {days} working days from {phone}. "
                "Please quote your reference on the call.",
            },
        ),
    )
}


def is_mainland_mobile(phone: str) -> bool:
    """Whether *phone* (E.164) is a mainland China mobile, the only numbers we text."""
    if not MAINLAND_MOBILE_RE.match(phone or ""):
        return False
    number = phonenumbers.parse(phone, None)
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def check_params(template: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The parameters of *template* as strings, or ValueError when any is missing, extra or misshapen."""
    found = TEMPLATES.get(template)
    if found is None:
        raise ValueError(f"unknown SMS template {template!r}")
    if set(params) != set(found.params):
        raise ValueError(f"SMS template {template!r} takes {', '.join(found.params)}")
    checked = {name: str(params[name]) for name in found.params}
    for name, value in checked.items():
        if not PARAM_SHAPES[name].match(value):
            raise ValueError(f"SMS parameter {name!r} is not of its fixed shape")
    return checked


def render_text(template: str, locale: str, params: Mapping[str, Any], *, sign_name: str, site: str) -> str:
    """The text as a phone shows it: 【signature】 then the template's words with their parameters."""
    checked = check_params(template, params)
    words = TEMPLATES[template].text["zh" if locale == "zh" else "en"]
    return f"【{sign_name}】" + words.format(site=site.rstrip("/"), **checked)


class SmsBackend(Protocol):
    """Where texts go: a folder of .json files, or the provider."""

    def send(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def _checked_row(row: dict[str, Any]) -> dict[str, str]:
    """The row's parameters, refusing for good a number we never text or a parameter of the wrong shape."""
    if not is_mainland_mobile(row["to_addr"]):
        raise PermanentFailure("not a mainland mobile number")
    try:
        return check_params(row["subject"], row.get("headers") or {})
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from None


class FileSmsBackend:
    """The default: one ``<outbox id>.json`` per row under ``<instance>/sms/``, text rendered to read."""

    def __init__(self, folder: Path, sign_name: str, site: str) -> None:
        self.folder = folder
        self.sign_name = sign_name
        self.site = site
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def send(self, row: dict[str, Any]) -> None:
        params = _checked_row(row)
        message = {
            "to": row["to_addr"],
            "template": row["subject"],
            "params": params,
            "locale": row["locale"],
            "key": row["idempotency_key"],
            "text": render_text(row["subject"], row["locale"], params, sign_name=self.sign_name, site=self.site),
        }
        target = self.folder / f"{row['id']:08d}.json"
        partial = target.with_suffix(".json.partial")
        # 0600: a text's file holds a family's mobile number.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(message, fh, ensure_ascii=False, indent=2)
        os.replace(partial, target)  # never a half-written file

    def close(self) -> None:
        pass


#: Tencent Cloud SMS error codes after which the same text to the same number can never succeed.
#: Every other code (throttles, the provider's InternalError.*, our balance, credentials, signature
#: or template not approved yet) is retried: those are fixed by waiting or by us, and a text given
#: up on them would be lost for a fault that is not the family's.
TENCENT_PERMANENT = frozenset(
    {
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.PhoneNumberParseFail",
        "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone",
        "UnsupportedOperation.UnsupportedRegion",
        "InvalidParameterValue.TemplateParameterFormatError",
        "InvalidParameterValue.TemplateParameterLengthLimit",
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
        "FailedOperation.ContainSensitiveWord",
        "InvalidParameter.DirtyWordFound",
    }
)


def classify(code: str, message: str) -> Exception:
    """A provider's error *code* as a :class:`PermanentFailure` or a :class:`TemporaryFailure`."""
    text = f"{code}: {message}"[:300]
    return PermanentFailure(text) if code in TENCENT_PERMANENT else TemporaryFailure(text)


def template_id(config: Mapping[str, Any], template: str, locale: str) -> str:
    """The provider's id of *template* in *locale*, else its Chinese one (many hospitals have only that)."""
    ids = (config.get("SMS_TEMPLATES") or {}).get(template) or {}
    return str(ids.get(locale) or ids.get("zh") or "")


def missing_settings(config: Mapping[str, Any]) -> list[str]:
    """The settings the ``tencent`` backend needs and lacks (names without the PRESCREEN_ prefix)."""
    missing = [
        key for key in ("SMS_SDK_APP_ID", "SMS_SIGN_NAME", "SMS_SECRET_ID", "SMS_SECRET_KEY") if not config.get(key)
    ]
    missing += [f"SMS_TEMPLATES[{key!r}]['zh']" for key in TEMPLATES if not template_id(config, key, "zh")]
    return missing


class TencentSmsBackend:
    """Tencent Cloud SMS through ``tencentcloud-sdk-python-sms``: one ``SendSms`` per row, one number each."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.config = config
        http = HttpProfile(reqTimeout=int(config["SMS_TIMEOUT"]))
        endpoint = config.get("SMS_ENDPOINT")
        if endpoint:  # "https://sms.tencentcloudapi.com" or, in tests, "http://127.0.0.1:8123"
            scheme, _, host = str(endpoint).partition("://")
            http = HttpProfile(protocol=scheme, endpoint=host.rstrip("/"), reqTimeout=int(config["SMS_TIMEOUT"]))
        cred = credential.Credential(config["SMS_SECRET_ID"], config["SMS_SECRET_KEY"])
        self.client = sms_client.SmsClient(cred, config["SMS_REGION"], ClientProfile(httpProfile=http))

    def send(self, row: dict[str, Any]) -> None:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        params = _checked_row(row)
        template = TEMPLATES[row["subject"]]
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [row["to_addr"]]
        request.SmsSdkAppId = str(self.config["SMS_SDK_APP_ID"])
        request.SignName = str(self.config["SMS_SIGN_NAME"])
        request.TemplateId = template_id(self.config, template.key, row["locale"])
        request.TemplateParamSet = [params[name] for name in template.params]
        # Comes back in the provider's delivery receipts: which row, never who.
        request.SessionContext = hashlib.sha256(row["idempotency_key"].encode("utf-8")).hexdigest()[:32]
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise classify(str(exc.get_code()), str(exc.get_message())) from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TemporaryFailure("no send status in the provider's reply")
        if statuses[0].Code != "Ok":
            raise classify(str(statuses[0].Code), str(statuses[0].Message))

    def close(self) -> None:
        pass
