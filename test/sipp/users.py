#!/usr/bin/env python3
"""users.py: generate the accounts of a SIPp registration load.

Writes two files for N users PREFIX0 .. PREFIX{N-1} at DOMAIN:

  CSV      a SIPp injection file (-inf), first line SEQUENTIAL, then
           "user;password;[authentication username=user password=...]"
           a line: fields [field0], [field1] and [field2] of
           register_auth.xml and unregister.xml (SIPp 3.6 expands the
           [authentication] keyword from a field, not [field0] inside it)
  IMPORT   the same accounts for the server, "user@domain password" a
           line (sipd: "sipctl user import IMPORT"; another server's
           loader can read the same file)

  users.py [-n N] [--prefix alice] [--domain example.com] [--start 0]
           [--password-prefix pw] CSV IMPORT

The module is imported by the integration tests and the benchmark
(write_users), which is why it has no side effect on import.
"""

import argparse
import sys


def user_names(n, prefix="alice", start=0):
    """The user parts, in the order SIPp will use them."""
    return ["%s%d" % (prefix, i) for i in range(start, start + n)]


def password_of(user, password_prefix="pw"):
    """Each user its own password, derived from its name."""
    return "%s-%s" % (password_prefix, user)


def write_users(csv_path, import_path, n, prefix="alice",
                domain="example.com", start=0, password_prefix="pw"):
    """Write the SIPp CSV and the import file; returns the AORs."""
    users = user_names(n, prefix, start)
    with open(csv_path, "w") as csv, open(import_path, "w") as imp:
        csv.write("SEQUENTIAL\n")
        for u in users:
            pw = password_of(u, password_prefix)
            csv.write("%s;%s;[authentication username=%s password=%s]\n"
                      % (u, pw, u, pw))
            imp.write("%s@%s %s\n" % (u, domain, pw))
    return ["%s@%s" % (u, domain) for u in users]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="number of users")
    ap.add_argument("--prefix", default="alice")
    ap.add_argument("--domain", default="example.com")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--password-prefix", default="pw")
    ap.add_argument("csv")
    ap.add_argument("import_file")
    a = ap.parse_args(argv)
    if a.n < 1:
        ap.error("-n must be at least 1")
    write_users(a.csv, a.import_file, a.n, a.prefix, a.domain, a.start,
                a.password_prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
