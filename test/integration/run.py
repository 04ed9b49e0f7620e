#!/usr/bin/env python3
"""Run integration tests: every test_* function of the test_*.py files.

  run.py --list     print the test names, one a line
  run.py NAME       run one test (module.function), exit 0 if it passed
  run.py            run them all
"""

import glob
import importlib
import os
import sys
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


def run(name):
    mod, func = name.split(".", 1)
    m = importlib.import_module("test_" + mod)
    start = time.time()
    try:
        getattr(m, "test_" + func)()
    except Exception:
        print("FAIL %s (%.1fs)" % (name, time.time() - start))
        traceback.print_exc()
        return False
    print("ok   %s (%.1fs)" % (name, time.time() - start))
    return True


def main():
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
