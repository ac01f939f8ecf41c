"""`python -m monitor` is the `monitor` command."""

from monitor.cli import main

# Worker processes (forkserver, spawn) import __main__ under another name: only run it here.
if __name__ == "__main__":
    main()
