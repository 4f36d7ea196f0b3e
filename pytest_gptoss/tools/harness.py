"""Runs in the sandbox: one call of a case's ``python`` function, its answer printed after a nonce.

Given on stdin as JSON: ``source`` (the function ``tool``, its body the
case's), ``arguments`` (the model's, already checked against the schema) and
``nonce``. Prints one line, the nonce then ``{"result": value}`` or
``{"error": "..."}``; what the body prints itself is left before it.
Standard library only: this file is the program the sandbox runs.
"""

import json
import sys


def report(nonce, data):
    sys.stdout.write("\n" + nonce + json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main():
    payload = json.loads(sys.stdin.read())
    nonce = payload["nonce"]
    namespace = {"__name__": "__tool__"}
    try:
        exec(compile(payload["source"], "<tool>", "exec"), namespace)  # the case author's code
        value = namespace["tool"](**payload["arguments"])
    except BaseException as exc:  # the tool failing is its answer to the model, not the harness failing
        report(nonce, {"error": f"{type(exc).__name__}: {exc}"})
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        report(nonce, {"error": f"the tool returned {type(value).__name__} {value!r:.80}, which is not JSON data"})
        return
    report(nonce, {"result": value})


if __name__ == "__main__":
    main()
