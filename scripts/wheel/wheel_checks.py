"""What check_api.py and check_native.py share: the wheel's CLI as a user runs it, and an expected
zoorepro.Error. Imported from this folder (the checks run from outside the checkout, so
`import zoorepro` is the installed wheel's)."""
import subprocess

import zoorepro


def cli(*args):
    return subprocess.run(["zoorepro", *args], capture_output=True, text=True)


def expect_error(call, *needles):
    try:
        call()
    except zoorepro.Error as e:
        for needle in needles:
            assert needle in str(e), (needle, str(e))
        return str(e)
    raise AssertionError(f"no zoorepro.Error ({needles})")
