"""The programs of Debian packages the suite starts or drives. `make test` installs their
packages first (.ci/system-packages, as root) or names the command that does; a test that finds
one missing fails, with that command, rather than skip."""

import shutil

import pytest

# Where Debian puts daemons such as nginx: not on an ordinary user's PATH.
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


def program(name: str, package: str) -> str:
    """The path of `name`, a program of the Debian package `package`."""
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if found is None:
        pytest.fail(
            f"{name} is not installed: make test installs it as root, or apt-get install -y "
            f"--no-install-recommends {package}",
            pytrace=False,
        )
    return found
