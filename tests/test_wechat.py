"""WeChat's in-app browser: what a pasted link shows, and no print, download or mailto there.

A family opens our link in WeChat (its user agent says ``MicroMessenger``); WeChat blocks
``window.print``, downloads, pop-ups and ``mailto:``, so those pages say "open in the browser"
instead. A link pasted into a chat shows a card from ordinary meta tags: the study's title and
hospital on the study page, the site everywhere else, never anything a family typed.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from prescreen.web.wechat import is_wechat
from tests.helpers.public import BASE, STUDY, likely_answers, start, walk

PUBLIC_URL = "https://trials.example.org"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2244A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202"
    " MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/4G Language/zh_CN"
)
CHROME = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Mobile Safari/537.36"
)
HINT_ZH = "在微信里无法打印"
META_RE = re.compile(r'<meta (?:name|property)="([^"]+)" content="([^"]*)">')


def meta(body: str) -> dict[str, str]:
    """The page's named meta tags, unescaped."""
    return {name: html.unescape(content) for name, content in META_RE.findall(body)}


@pytest.fixture
def app(make_app):
    return make_app(PUBLIC_URL=PUBLIC_URL, STUDY_CONTACT_EMAIL="team@example.org", RATELIMIT_ENABLED=False)


def at_result(client: FlaskClient, agent: str) -> None:
    """A family in WeChat (or not) answers everything, in Chinese."""
    client.environ_base["HTTP_USER_AGENT"] = agent
    start(client, "guardian", "zh")
    walk(client, likely_answers())


def test_wechat_is_told_by_its_user_agent():
    assert is_wechat(ANDROID) and is_wechat(IPHONE)
    assert not is_wechat(CHROME) and not is_wechat("") and not is_wechat(None)


def test_a_pasted_study_link_shows_its_title_and_hospital_and_an_image_we_serve(client):
    client.environ_base["HTTP_USER_AGENT"] = ANDROID
    tags = meta(client.get(f"{BASE}/?lang=zh").get_data(as_text=True))
    assert tags["og:title"] == "利妥昔单抗序贯贝利尤单抗治疗难治性儿童干燥综合征"
    assert tags["og:description"].startswith("北京协和医院 · ") and tags["description"] == tags["og:description"]
    assert "robots" not in tags  # the study page may be found
    image = urlsplit(tags["og:image"])
    assert f"{image.scheme}://{image.netloc}" == PUBLIC_URL  # absolute: WeChat fetches it from outside
    with client.get(f"{image.path}?{image.query}") as response:
        assert response.status_code == 200 and response.mimetype == "image/png"
        png = response.data
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == int(tags["og:image:width"]) == 300

    english = meta(client.get(f"{BASE}/?lang=en").get_data(as_text=True))
    assert english["og:title"].startswith("Belimumab after rituximab")
    assert english["og:description"].startswith("Peking Union Medical College Hospital · ")
    home = meta(client.get("/?lang=zh").get_data(as_text=True))
    assert home["og:title"] == "临床研究初筛" and home["og:image"] == tags["og:image"] and "robots" not in home


def test_result_and_resume_pages_say_nothing_personal_in_their_meta_and_are_not_indexed(client):
    at_result(client, ANDROID)
    body = client.get(f"{BASE}/result").get_data(as_text=True)
    tags = meta(body)
    resume_url = html.unescape(re.search(r'id="resume-url" value="([^"]+)"', body).group(1))
    token = resume_url.rsplit("/", 1)[1]
    assert tags["robots"] == "noindex"
    # WeChat fetches a pasted link without the family's cookie: the result page previews as the
    # page it redirects to, so it carries no share tags at all (and stays small on a slow network).
    assert not [name for name in tags if name.startswith("og:") or name == "description"], tags
    assert client.application.test_client().get(f"{BASE}/result").status_code in (302, 303)
    head = body.split("</head>", 1)[0]
    assert token not in head and "/r/" not in head and "og:url" not in head
    for word in ("符合", "不适合", "干燥", "利妥昔", "北京协和"):  # no outcome, no study, no answer
        assert all(word not in value for value in tags.values()), word

    fresh = client.application.test_client()
    fresh.environ_base["HTTP_USER_AGENT"] = ANDROID  # WeChat's own fetch of a pasted resume link
    page = fresh.get(urlsplit(resume_url).path + "?lang=zh").get_data(as_text=True)
    resume_tags = meta(page)
    assert resume_tags["robots"] == "noindex" and resume_tags["og:title"] == "临床研究初筛"
    assert token not in page.split("</head>", 1)[0]


def test_in_wechat_the_summary_says_open_in_the_browser_instead_of_print(client):
    at_result(client, ANDROID)
    result = client.get(f"{BASE}/result")
    text = result.get_data(as_text=True)
    assert "User-Agent" in result.headers.get("Vary", "")
    assert "给医生看的小结（可以截图保存）" in text and "打印" not in text  # no promise of printing
    assert "mailto:" not in text and "team@example.org" in text  # WeChat opens no mail app: the address as text
    summary = client.get(f"{BASE}/summary").get_data(as_text=True)
    assert HINT_ZH in summary and "「在浏览器打开」" in summary and summary.count("打印") == 1
    assert "data-print" not in summary and "window.print" not in summary
    assert "download" not in summary and 'target="_blank"' not in summary
    assert summary.count('class="summary"') == 2  # the summary itself, both languages, to screenshot


def test_in_a_browser_the_print_button_and_mailto_stay(app):
    client = app.test_client()
    at_result(client, CHROME)
    assert "mailto:team@example.org" in client.get(f"{BASE}/result").get_data(as_text=True)
    summary = client.get(f"{BASE}/summary").get_data(as_text=True)
    assert "data-print" in summary and HINT_ZH not in summary


def test_every_family_page_reached_in_wechat_has_no_pop_up_or_download(client):
    at_result(client, IPHONE)
    for path in ("/", f"{BASE}/", f"{BASE}/result", f"{BASE}/summary", f"{BASE}/refer", "/volunteer/signup"):
        body = client.get(path).get_data(as_text=True)
        assert 'target="_blank"' not in body and " download" not in body and "mailto:" not in body, path
        assert STUDY in body or path == "/volunteer/signup", path
