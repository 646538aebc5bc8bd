"""Exit 0 when every `name==version` pin of the requirements file is what this Python has installed.

install-deps.sh asks this before it calls pip, so that a venv that is already current needs no
network; it prints what differs otherwise.
"""
import sys
from importlib import metadata


def main(path: str) -> int:
    wrong = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, version = line.partition("==")
            if not sep:
                print(f"{path}:{number}: expected name==version, got {line!r}", file=sys.stderr)
                return 2
            try:
                have = metadata.version(name.strip())
            except metadata.PackageNotFoundError:
                have = None
            if have != version.strip():
                wrong.append(f"{name.strip()} {have or 'missing'} (pinned {version.strip()})")
    if wrong:
        print("check-requirements: " + ", ".join(wrong))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
