"""junit_outcomes.py FILE.xml - each test's outcome in a JUnit XML report
of Python's regrtest (--junit-xml), one a line, sorted:
  NAME ok | skipped: REASON | failure: LINE | error: LINE
where LINE is the last line of the traceback (the exception). Process ids
in temporary names are replaced by N, so that two runs can be compared.
"""
import re
import sys
import xml.etree.ElementTree as ET


def last_line(text):
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def outcome(case):
    for kind in ("failure", "error"):
        el = case.find(kind)
        if el is not None:
            return f"{kind}: {last_line(el.text) or el.get('message', '')}"
    el = case.find("skipped")
    if el is not None:
        return f"skipped: {el.get('message', '') or last_line(el.text)}"
    return "ok"


def main():
    lines = []
    for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
        name = ".".join(p for p in (case.get("classname"), case.get("name"))
                        if p)
        line = f"{name} {outcome(case)}"
        line = re.sub(r"@test_\d+_", "@test_N_", line)
        line = re.sub(r"test_python_\d+", "test_python_N", line)
        lines.append(line)
    print("\n".join(sorted(lines)))


main()
