#!/usr/bin/env python3
"""Run integration tests: every test_* function of the test_*.py files.

  run.py --list     print the test names, one a line
  run.py NAME       run one test (module.function), exit 0 if it passed
  run.py            run them all
  run.py --lanes N --results DIR [NAME...]
                    run them (or those named) N at a time, each in a
                    process of its own; DIR/NAME.out gets what a test
                    printed and DIR/NAME.rc, written last, its exit
                    status (the Check suite's tests wait for them)

With lanes, a test that loads the machine or measures times (a rate, a
flood, a SIPp load: solo()) runs alone: it starts once the others are
done, and none starts beside it. The others mostly wait on timers, and
two of them at a time take less than twice as long on two cores.

Under make test SANITIZE=1 (ASan and UBSan) and VALGRIND=1 (sipd under
valgrind) every instrumented process a test starts writes its reports
into a directory of the test's own (log_path, --log-file); a test after
which a report is found fails, whatever its own checks said.
"""

import glob
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def tests():
    names = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        mod = os.path.splitext(os.path.basename(path))[0]
        m = importlib.import_module(mod)
        for attr in sorted(vars(m), key=lambda a: getattr(
                getattr(m, a), "__code__", None) and
                getattr(m, a).__code__.co_firstlineno or 0):
            if attr.startswith("test_") and callable(getattr(m, attr)):
                names.append("%s.%s" % (mod[5:], attr[5:]))
    return names


SAN_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS")
SAN_BASE = {v: os.environ.get(v) for v in SAN_VARS}


def reports_start():
    """A fresh directory for the sanitizers' and valgrind's reports."""
    d = tempfile.mkdtemp(prefix="sipd-reports-")
    os.environ["SIPD_REPORTS"] = d
    for var in SAN_VARS:
        if SAN_BASE[var] is not None:
            os.environ[var] = "%s:log_path=%s/%s" % (
                SAN_BASE[var], d, var.split("_")[0].lower())
    return d


def reports_check(d):
    """The reports written during a test, as one text ('' if none)."""
    text = ""
    for path in sorted(glob.glob(os.path.join(d, "*"))):
        with open(path, errors="replace") as f:
            body = f.read()
        if body.strip():
            text += "==== %s\n%s" % (os.path.basename(path), body)
    shutil.rmtree(d, ignore_errors=True)
    return text


def run(name):
    mod, func = name.split(".", 1)
    m = importlib.import_module("test_" + mod)
    start = time.time()
    if os.environ.get("SIPD_VALGRIND") == "1" and getattr(
            getattr(m, "test_" + func), "timing", False):
        print("skip %s: a load or timing test, not run under valgrind"
              % name)
        return True
    d = reports_start()
    try:
        getattr(m, "test_" + func)()
    except Exception:
        print("FAIL %s (%.1fs)" % (name, time.time() - start))
        traceback.print_exc()
        print(reports_check(d), end="")
        return False
    reports = reports_check(d)
    if reports:
        print("FAIL %s (%.1fs): sanitizer or valgrind reports" % (
            name, time.time() - start))
        print(reports, end="")
        return False
    print("ok   %s (%.1fs)" % (name, time.time() - start))
    return True


SOLO_NAMES = re.compile(r"sipp|_load|rate_limit|brute|throttle|burst|"
                        r"flood|svwar|svcrack")


def solo(name):
    """Whether a test runs alone: a timing test, one of a module that
    says SOLO, or one whose name says it loads the machine."""
    mod, func = name.split(".", 1)
    m = importlib.import_module("test_" + mod)
    return bool(getattr(m, "SOLO", False) or
                getattr(getattr(m, "test_" + func), "timing", False) or
                SOLO_NAMES.search(name))


def owner_alive():
    """Whether the test program that started the lanes still runs
    (SIPD_LANES_OWNER, its pid): without it nobody reads the results."""
    pid = int(os.environ.get("SIPD_LANES_OWNER", "0") or 0)
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def lanes(n, results, names):
    """Run the tests n at a time (solo ones alone), in list order; stop
    when the test program that reads the results is gone."""
    queue = list(names)
    running = {}                 # name -> (Popen, out file)

    def reap(block):
        while running:
            for name, (p, out) in list(running.items()):
                if p.poll() is not None:
                    out.close()
                    rc = os.path.join(results, name + ".rc")
                    with open(rc + ".new", "w") as f:
                        f.write("%d\n" % p.returncode)
                    os.rename(rc + ".new", rc)
                    del running[name]
                    return True
            if not block:
                return False
            time.sleep(0.05)
        return False

    while queue or running:
        if not owner_alive():
            for p, out in running.values():
                p.kill()
            return 1
        name = queue[0] if queue else None
        alone = name is not None and solo(name)
        if name is None or len(running) >= n or \
                (running and (alone or any(solo(r) for r in running))):
            reap(True)
            continue
        queue.pop(0)
        out = open(os.path.join(results, name + ".out"), "w")
        running[name] = (subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), name],
            stdout=out, stderr=subprocess.STDOUT), out)
    return 0


def main():
    if len(sys.argv) > 3 and sys.argv[1] == "--lanes":
        return lanes(int(sys.argv[2]), sys.argv[4], sys.argv[5:] or
                     tests()) if sys.argv[3] == "--results" else 2
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        for n in tests():
            print(n)
        return 0
    names = sys.argv[1:] or tests()
    failed = [n for n in names if not run(n)]
    if failed:
        print("failed: " + " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
