"""Runs the independent SCIM conformance suite scim2-tester against a live server.

    python scripts/conformance.py http://127.0.0.1:8080/scim_v2 "$TOKEN" [User,Group]

Prints one line per check and exits 1 if any check reports an error (a MUST
of RFC 7643/7644 broken) or worse. Needs `pip install scim2-tester
'scim2-client[httpx2]'`; scripts/conformance.sh does all of it.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILING = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, token = sys.argv[1].rstrip("/"), sys.argv[2]
    resource_types = sys.argv[3].split(",") if len(sys.argv) > 3 else ["User"]
    http = Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(http)
    scim.discover()
    results = check_server(scim, resource_types=resource_types)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.name] = counts.get(result.status.name, 0) + 1
        reason = f": {result.reason}" if result.reason and result.status != Status.SUCCESS else ""
        print(f"{result.status.name:<10} {result.resource_type or '-':<6} {result.title}{reason}")
    failed = sum(1 for result in results if result.status in FAILING)
    passed = len(results) - failed - counts.get("SKIPPED", 0)
    summary = ", ".join(f"{n} {name.lower()}" for name, n in sorted(counts.items()))
    print(f"\nscim2-tester: {summary}")
    print(f"conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
