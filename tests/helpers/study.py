"""Write small studies inline, so each test shows the exact sheet it is about."""

from __future__ import annotations

import csv
import io
from pathlib import Path

STUDY = """id,status,min_age,max_age,age_question,conditions,categories,title::en,title::zh,summary::en,summary::zh,involves::en,involves::zh,centre::en,centre::zh,address::en,address::zh
demo,recruiting,5,18,dob,Demo,x,Demo study,示例研究,A study.,一项研究。,Visits.,随访。,A hospital,某医院,Beijing,北京
"""
#: family wording (criteria.csv's not_met/review/visit columns, guardian then patient, en then zh): each
#: criterion has the wording of every status it can show, and no other
FAMILY_HEADER = ",".join(
    f"{s}::{v}::{lang}"
    for s in ("not_met", "review", "visit")
    for v in ("guardian", "patient")
    for lang in ("en", "zh")
)
CRITERIA = f"""id,kind,wording,label::en,label::zh,reason::en,reason::zh,home,waiting_period,any_of,not_met_if,met_if,confirm_if,recheck,{FAMILY_HEADER}
inc_age,inclusion,Age 5-18,Age,年龄,Your child is too young.,孩子年龄还小。,yes,yes,,age(dob) < 5,age(dob) >= 5,,dob + 60,Your child is too young.,孩子年龄还小。,You are too young.,你年龄还小。,,,,,,,,
inc_dx,inclusion,Has SS,Diagnosis,诊断,No diagnosis.,没有确诊。,yes,no,,dx == 'no',dx == 'yes',,,The study is for SS only.,只针对干燥综合征。,The study is for SS only.,只针对干燥综合征。,The doctor checks your child's diagnosis.,医生会核实孩子的诊断。,The doctor checks your diagnosis.,医生会核实你的诊断。,,,,
exc_drug,exclusion,No belimumab,Belimumab,贝利尤单抗,Had belimumab.,用过贝利尤单抗。,yes,no,,'bel' in drugs,drugs == 'none',drugs == 'unsure',,Your child had belimumab.,孩子用过贝利尤单抗。,You had belimumab.,你用过贝利尤单抗。,The doctor asks about your child's medicines.,医生会了解孩子用过的药。,The doctor asks about your medicines.,医生会了解你用过的药。,The doctor checks your child's medicines.,医生会核对孩子的用药。,The doctor checks your medicines.,医生会核对你的用药。
"""
QUESTIONS = """id,type,choices,show_if,criteria,text::guardian::en,text::guardian::zh,text::patient::en,text::patient::zh,why::en,why::zh
dob,month,,,inc_age,When was your child born?,孩子是哪年哪月出生的？,When were you born?,你是哪年哪月出生的？,To check age.,确认年龄。
dx,single,yn,,inc_dx,Has a doctor said your child has SS?,医生说过孩子有干燥综合征吗？,Has a doctor said you have SS?,医生说过你有干燥综合征吗？,To check the illness.,确认疾病。
drugs,multiple,drugs,dx == 'yes',exc_drug,Which medicines?,用过哪些药？,Which medicines?,你用过哪些药？,Some medicines rule it out.,有些药会影响入组。
"""
CHOICES = """list,value,exclusive,label::en,label::zh
yn,yes,,Yes,是
yn,no,,No,否
yn,unsure,,Not sure,不确定
drugs,bel,,Belimumab,贝利尤单抗
drugs,rtx,,Rituximab,利妥昔单抗
drugs,none,yes,None of these,都没用过
drugs,unsure,yes,Not sure,不确定
"""
SHEETS = {"study": STUDY, "criteria": CRITERIA, "questions": QUESTIONS, "choices": CHOICES}


def write_study(root: Path, study_id: str = "demo", encoding: str = "utf-8", **overrides: str) -> Path:
    """Write the demo study under ``root/questions/<study_id>``, replacing any sheet given."""
    folder = root / "questions" / study_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**SHEETS, **overrides}.items():
        (folder / f"{name}.csv").write_bytes(text.encode(encoding))
    return folder


#: A guardian whose 11-year-old (born March 2015) rules nothing out in the real study
#: (questions/pumch-pediatric-sjogren): every answer a family can give at home is the passing one.
ELIGIBLE: dict[str, object] = {
    "dob": "2015-03",
    "diagnosis": "yes",
    "consent_guardian": "yes",
    "rituximab": "no",
    "biologics": ["none"],
    "other_autoimmune": "no",
    "drugs": ["steroid", "mtx"],
    "tx_duration": "more_3m",
    "steroid_other": "no",
    "systemic": ["joints"],
    "markers": ["igg_high", "esr_high"],
    "other_trial": "no",
    "history": ["none"],
    "hcv_hiv": ["negative"],
    "hbv": "negative",
    "tb": "no",
    "infection_now": "no",
    "suppressive": "no",
    "hospital": "no",
    "iv_drugs": "no",
    "vaccine": "no",
    "infection_risk": ["none"],
    "kidney": "no",
    "other_illness": "no",
    "abnormal_lab": "no",
    "ss_tests": ["antibodies"],
    "ss_results": ["antibodies"],
    "lab_report": "no",
}


Rows = list[dict[str, str]] | str

#: What a required cell holds when a test leaves it out: enough for the loader, never what a test is about.
DEFAULTS: dict[str, dict[str, str]] = {
    "study": {
        "status": "recruiting",
        "min_age": "5",
        "max_age": "18",
        "age_question": "dob",
        "conditions": "Demo",
        "categories": "x",
    },
    "criteria": {"kind": "inclusion", "home": "yes", "waiting_period": "no"},
    "questions": {},
    "choices": {},
}


#: a criterion's family wording is needed (and allowed) only for the statuses its rules can give
FAMILY_RULE = {"not_met": "not_met_if", "visit": "confirm_if"}


def _default(sheet: str, column: str, row: dict[str, str]) -> str:
    """A filler for *column*: the sheet's default, else a wording in the cell's language."""
    if column in DEFAULTS[sheet]:
        return DEFAULTS[sheet][column]
    rule = FAMILY_RULE.get(column.split("::")[0]) if sheet == "criteria" and column.count("::") == 2 else None
    if rule and not row.get(rule):
        return ""
    if column.endswith("::zh"):
        return "示例文字"
    if column.endswith("::en") or column == "wording":
        return f"{row.get('id') or row.get('value', 'x')} text"
    return ""


def _rows(sheet: str, given: Rows | None) -> list[dict[str, str]]:
    if given is None:
        given = SHEETS[sheet]
    if isinstance(given, str):
        return list(csv.DictReader(io.StringIO(given)))
    return [dict(row) for row in given]


def build_study(root: Path, study_id: str = "demo", **sheets: Rows) -> Path:
    """Write a study of just the rows a test gives, as ``root/questions/<study_id>``; returns the folder.

    Each sheet (``study``, ``criteria``, ``questions``, ``choices``) is a list of dicts or CSV text;
    a sheet left out is the demo study's. Required columns a row leaves out get a harmless filler
    (the study row's ``id`` is *study_id*), so a test shows only the cells it is about, and any
    extra key becomes a column of its own, in the order first seen.
    """
    from prescreen.engine.sheets import COLUMNS

    unknown = set(sheets) - set(SHEETS)
    assert not unknown, f"no such sheet: {sorted(unknown)}"
    folder = root / "questions" / study_id
    folder.mkdir(parents=True, exist_ok=True)
    for sheet in SHEETS:
        rows = _rows(sheet, sheets.get(sheet))
        required, optional = COLUMNS[sheet]
        extra = [c for row in rows for c in row if c not in required and c not in optional]
        used_optional = [c for c in optional if any(c in row for row in rows)]
        columns = list(dict.fromkeys([*required, *used_optional, *extra]))
        with (folder / f"{sheet}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                if sheet == "study":
                    row.setdefault("id", study_id)
                writer.writerow({c: row[c] if c in row else _default(sheet, c, row) for c in columns})
    return folder
