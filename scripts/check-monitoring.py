"""Checks that the Grafana dashboards and the alert rules hold together with
the code and the runbooks.

    python3 scripts/check-monitoring.py

1. Every dashboard query (panels and template variables) parses as PromQL:
   each is written, with Grafana's variables filled in, into a temporary
   rule file that `promtool check rules` reads.
2. Every rollcall_* metric a dashboard or an alert queries is one rollcall
   registers (a string literal in crates/*/src) or documents (README.md), so
   a renamed or dropped metric cannot leave a panel or an alert silently
   empty.
3. Every alert has a `runbook` annotation naming a section of
   docs/operations.md whose heading is the alert's name.

Exits 1 listing each problem. Needs PyYAML and promtool (Debian's
`prometheus` package).
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
ALERTS = ROOT / "deploy/alerts.yml"
RUNBOOKS = ROOT / "docs/operations.md"
METRIC = re.compile(r"\brollcall_[a-z0-9_]+\b")
# Series a histogram or summary exposes beside its own name.
SERIES_SUFFIXES = ("_bucket", "_sum", "_count")
# What Grafana puts in place of its variables before Prometheus sees a query.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
}


def dashboard_queries(path):
    """(where, query) for every query of a dashboard, panels and variables."""
    dashboard = json.loads(path.read_text())
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            title = node.get("title", where)
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append((f"{path.name}: {title}", value))
                else:
                    walk(value, title)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(dashboard.get("panels", []), path.name)
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str):
            found.append((f"{path.name}: variable {variable['name']}", query))
    return found


def alert_queries():
    rules = yaml.safe_load(ALERTS.read_text())
    return [
        (f"alerts.yml: {rule['alert']}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def as_promql(query):
    """The PromQL Prometheus receives for a Grafana query; None for label_values()."""
    if query.startswith("label_values("):
        return None
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    return re.sub(r"\$\w+", ".*", query)


def known_metrics():
    registered = set()
    for source in (ROOT / "crates").glob("*/src/**/*.rs"):
        registered.update(re.findall(r'"(rollcall_[a-z0-9_]+)"', source.read_text()))
    documented = set(re.findall(r"`(rollcall_[a-z0-9_]+)", (ROOT / "README.md").read_text()))
    return registered | documented


def is_known(name, known):
    if name in known:
        return True
    return any(name.endswith(s) and name[: -len(s)] in known for s in SERIES_SUFFIXES)


def unparsable(queries):
    """promtool's complaints about the dashboards' queries, if any."""
    rules = [
        {"record": f"dashboard_query_{index}", "expr": promql}
        for index, (_, query) in enumerate(queries)
        if (promql := as_promql(query)) is not None
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, file)
        file.flush()
        checked = subprocess.run(
            ["promtool", "check", "rules", file.name], capture_output=True, text=True
        )
    if checked.returncode == 0:
        return []
    problems = []
    for line in (checked.stdout + checked.stderr).splitlines():
        match = re.search(r"dashboard_query_(\d+)", line)
        where = queries[int(match.group(1))][0] if match else "dashboards"
        if "error" in line.lower() or "parse" in line.lower():
            problems.append(f"{where}: {line.strip()}")
    return problems or [f"promtool check rules failed:\n{checked.stdout}{checked.stderr}"]


def missing_runbooks():
    """Alerts whose runbook annotation does not name their own section."""
    headings = re.findall(r"^#+ (\S+)\s*$", RUNBOOKS.read_text(), re.M)
    anchors = {heading.lower(): heading for heading in headings}
    problems = []
    rules = yaml.safe_load(ALERTS.read_text())
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        name = rule["alert"]
        runbook = rule.get("annotations", {}).get("runbook", "")
        expected = f"docs/operations.md#{name.lower()}"
        if runbook != expected:
            problems.append(f"alerts.yml: {name}: runbook annotation {runbook!r}, expected {expected!r}")
        elif anchors.get(name.lower()) != name:
            problems.append(f"alerts.yml: {name}: docs/operations.md has no section headed {name}")
    return problems


def main():
    if not DASHBOARDS:
        print("check-monitoring: no dashboards in deploy/grafana/dashboards", file=sys.stderr)
        return 1
    from_dashboards = [q for path in DASHBOARDS for q in dashboard_queries(path)]
    problems = unparsable(from_dashboards) + missing_runbooks()
    known = known_metrics()
    for where, query in from_dashboards + alert_queries():
        for name in sorted(set(METRIC.findall(query))):
            if not is_known(name, known):
                problems.append(
                    f"{where}: {name} is neither registered in crates/*/src nor listed in README.md"
                )
    for problem in dict.fromkeys(problems):
        print(f"check-monitoring: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"check-monitoring: {len(from_dashboards)} dashboard queries in {len(DASHBOARDS)} dashboards "
        "parse, every metric they and the alerts query is rollcall's, every alert has its runbook"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
