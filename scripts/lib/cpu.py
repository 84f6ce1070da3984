#!/usr/bin/env python3
"""CPU-seconds spent by each process group of a benchmark, read from /proc.

  cpu.py snapshot [GROUP=]PID...        JSON of cumulative CPU-seconds by group
  cpu.py run OUT [--exited] -- COMMAND...
                                        runs COMMAND, writes its CPU-seconds to
                                        OUT; with --exited, those of the
                                        PostgreSQL backends that exited while
                                        it ran to OUT.exited (else 0)
  cpu.py report BEFORE AFTER LOAD N WHAT [EXITED]
                                        CPU-seconds per 1,000 of WHAT by group
                                        (EXITED: PostgreSQL's, from OUT.exited)

Groups: each PID's process with all its threads, in the group its GROUP=
names (a bare PID is `rollcall`: bench.sh's one server; bench-scaleout.sh
passes `rollcall-api=PID rollcall-api=PID rollcall-projector=PID`, and the
processes of one group add up), `postgres`
(every live PostgreSQL process plus what the postmaster reaped from backends
that exited, so connections that close during the run still count; with
CPU_DATABASES=db1,db2 in the environment, only the backends and autovacuum
workers of those databases and the server's own processes (postmaster,
checkpointer, WAL writer...), not what the postmaster reaped, whose database
is unknown: other sessions' databases on the machine stay out),
`rabbitmq` (the Erlang VM and its helpers), and the load generator (measured
by `run`, as a child's rusage: it exits before the second snapshot).
Backends that exit between the snapshots (pgbench's: it connects after the
first and disconnects before the second) are invisible to both; with
CPU_DATABASES, nor are they in what the postmaster reaped. `run` therefore
`run --exited` samples those databases' backends while COMMAND runs, every
SAMPLE_EVERY seconds, and reports what the ones that exited spent (at most
one interval of each is missed).

With CPU_DATABASES and CPU_PG_URL (a URL psql reaches the server by) in the
environment, `report` also splits PostgreSQL's CPU by the `application_name`
of the backends alive at the second snapshot: rollcall names each of its
connections after the part that holds it (rollcall-appender,
rollcall-linker, rollcall-projector...: docs/operations.md), so a change
shows in which part's backends it saved. It splits each GROUP= process's
CPU by thread name as well (rollcall's serial stages run on threads named
after them: rollcall-appender, rollcall-relay, rollcall-projector; the
names are cut to 15 characters by the kernel, numbers folded to N).
"""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

SAMPLE_EVERY = 0.2
TICK = os.sysconf("SC_CLK_TCK")
RABBITMQ = ("beam.smp", "erl_child_setup", "inet_gethost", "epmd")


def stat(pid):
    with open(f"/proc/{pid}/stat") as file:
        text = file.read()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is the state (field 3): utime is field 14, stime 15,
    # cutime 16, cstime 17, ppid 4.
    return comm, int(fields[1]), [int(value) / TICK for value in fields[11:15]]


def threads(pid):
    """{tid: [name, CPU-seconds]} of each thread of process `pid` now."""
    found = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            comm, _, (utime, stime, _, _) = stat(f"{pid}/task/{tid}")
        except (OSError, ValueError):
            continue
        found[tid] = [re.sub(r"[0-9]+", "N", comm), utime + stime]
    return found


def processes():
    """(pid, comm, ppid, CPU times) of every process still there to read."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm, ppid, times = stat(pid)
        except (OSError, ValueError):
            continue
        yield pid, comm, ppid, times


def backend_names():
    """{pid: application_name} of the backends of CPU_DATABASES, from
    pg_stat_activity through psql at CPU_PG_URL ({} without them)."""
    url, databases = os.environ.get("CPU_PG_URL"), os.environ.get("CPU_DATABASES")
    if not url or not databases:
        return {}
    listed = subprocess.run(
        ["psql", "-At", "-F", "\t", url, "-v", f"databases={databases}"],
        # On standard input: psql interpolates variables there, not in -c.
        input="select pid, application_name from pg_stat_activity "
        "where datname = any(string_to_array(:'databases', ','))",
        capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        print(f"cpu.py: cannot read pg_stat_activity: {listed.stderr.strip()}", file=sys.stderr)
        return {}
    names = {}
    for line in listed.stdout.splitlines():
        pid, _, name = line.partition("\t")
        names[pid] = name or "(unnamed)"
    return names


def wanted_databases():
    """The databases CPU_DATABASES names (None: every one)."""
    databases = os.environ.get("CPU_DATABASES")
    return set(databases.split(",")) if databases else None


def snapshot(servers):
    """`servers` maps a pid (a string) to the name of its group."""
    groups = {group: 0.0 for group in servers.values()}
    groups.update({"postgres": 0.0, "rabbitmq": 0.0})
    postgres = {}
    for pid, comm, ppid, (utime, stime, cutime, cstime) in processes():
        if pid in servers:
            groups[servers[pid]] += utime + stime
        elif comm.startswith("postgres"):
            postgres[pid] = (ppid, utime + stime, cutime + cstime)
        elif comm in RABBITMQ:
            groups["rabbitmq"] += utime + stime
    wanted = wanted_databases()
    names = backend_names()
    # Each named backend's own CPU, by pid: report subtracts per backend.
    named = {}
    for pid, (ppid, own, reaped) in postgres.items():
        if wanted is not None:
            database = postgres_database(pid)
            if database is not None and database not in wanted:
                continue
        groups["postgres"] += own
        if pid in names:
            named[pid] = [names[pid], own]
        # The postmaster: its backends' exits.
        if str(ppid) not in postgres and wanted is None:
            groups["postgres"] += reaped
    by_thread = {pid: threads(pid) for pid in servers}
    return {"groups": groups, "postgres backends": named, "threads": by_thread,
            "servers": servers}


def postgres_database(pid):
    """The database a PostgreSQL process works for, from its title
    (`postgres: 15/main: USER DATABASE ADDRESS STATE` for a backend,
    `...: autovacuum worker DATABASE`); None for the server's own processes."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            title = file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    words = title.rsplit(": ", 1)[-1].split()
    if words[:2] == ["autovacuum", "worker"] and len(words) > 2:
        return words[2]
    if len(words) >= 3 and (words[2].startswith("[local]") or "(" in words[2]):
        return words[1]
    return None


def parse_servers(arguments):
    """`GROUP=PID` or a bare `PID` (group `rollcall`) -> {pid: group}."""
    servers = {}
    for argument in arguments:
        group, _, pid = argument.rpartition("=")
        if not pid.isdigit():
            raise SystemExit(f"cpu.py: {argument!r} is not PID nor GROUP=PID")
        servers[pid] = group or "rollcall"
    return servers


def backends(databases_of):
    """CPU-seconds of each live PostgreSQL backend of CPU_DATABASES, by pid.
    `databases_of` caches each pid's database: a backend keeps its own."""
    wanted = wanted_databases()
    found = {}
    for pid, comm, _, (utime, stime, _, _) in processes():
        if not comm.startswith("postgres"):
            continue
        if pid not in databases_of:
            databases_of[pid] = postgres_database(pid)
        if databases_of[pid] in wanted:
            found[pid] = utime + stime
    return found


def run(out, command, sample_exited):
    """Runs COMMAND; with `sample_exited` (and CPU_DATABASES: without it the
    postmaster's reaped time counts them already), samples the databases'
    backends while it runs and writes what the ones that exited spent in
    all to OUT.exited. The snapshots' difference took off what a backend
    alive at the first one had spent before; its whole time adds it back."""
    sampling = sample_exited and wanted_databases() is not None
    databases_of = {}
    last = {}
    child = subprocess.Popen(command)
    # Ctrl-C reaches COMMAND as well (the terminal signals the whole process
    # group): wait for it to end instead of dying with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sampling and child.poll() is None:
        last.update(backends(databases_of))
        time.sleep(SAMPLE_EVERY)
    status = child.wait()
    alive = backends(databases_of) if sampling else {}
    exited = sum(seconds for pid, seconds in last.items() if pid not in alive)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as file:
        file.write(str(usage.ru_utime + usage.ru_stime))
    with open(out + ".exited", "w") as file:
        file.write(str(exited))
    return status


def by_name(before, after):
    """CPU-seconds of what `after` holds ({id: [name, seconds]}: backends,
    threads), by name, since `before` (or since they started, for those
    that came after it)."""
    spent = {}
    for key, (name, seconds) in after.items():
        earlier = before.get(key)
        since = earlier[1] if earlier and earlier[0] == name else 0.0
        spent[name] = spent.get(name, 0.0) + seconds - since
    return sorted(spent.items(), key=lambda item: -item[1])


def report(before, after, load, count, what, exited="0"):
    before, after = json.loads(before), json.loads(after)
    count = float(count)
    if count <= 0:
        print(f"  (no {what}: nothing to divide by)")
        return
    split = {"postgres": ("backends alive at the end, by application_name",
                          by_name(before["postgres backends"], after["postgres backends"]))}
    # A group of several processes (bench-scaleout's): their threads together.
    threads_of = {}
    for pid, group in before["servers"].items():
        threads_of.setdefault(group, []).append(pid)
    for group, pids in threads_of.items():
        earlier = {f"{pid}/{tid}": value for pid in pids
                   for tid, value in before["threads"].get(pid, {}).items()}
        later = {f"{pid}/{tid}": value for pid in pids
                 for tid, value in after["threads"].get(pid, {}).items()}
        split[group] = ("threads alive at the end, by name", by_name(earlier, later))
    before, after = before["groups"], after["groups"]
    rows = [(group, after[group] - before[group]) for group in after]
    rows = [
        (group, seconds + float(exited) if group == "postgres" else seconds)
        for group, seconds in rows
    ]
    rows.append(("load generator", float(load)))
    total = sum(seconds for _, seconds in rows)
    for group, seconds in rows + [("all", total)]:
        print(f"  {group:<16} {1000 * seconds / count:8.3f} CPU-s per 1,000 {what}")
        heading, parts = split.get(group, ("", []))
        # What rounds to nothing says nothing.
        parts = [(name, seconds) for name, seconds in parts if 1000 * seconds / count >= 0.0005]
        if parts:
            print(f"    of which {heading}:")
            for name, seconds in parts:
                print(f"    {name:<24} {1000 * seconds / count:8.3f}")


if __name__ == "__main__":
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    if verb == "snapshot" and len(sys.argv) > 2:
        print(json.dumps(snapshot(parse_servers(sys.argv[2:]))))
    elif verb == "run" and len(sys.argv) > 4 and sys.argv[3] == "--":
        sys.exit(run(sys.argv[2], sys.argv[4:], False))
    elif verb == "run" and len(sys.argv) > 5 and sys.argv[3:5] == ["--exited", "--"]:
        sys.exit(run(sys.argv[2], sys.argv[5:], True))
    elif verb == "report" and len(sys.argv) in (7, 8):
        report(*sys.argv[2:8])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
