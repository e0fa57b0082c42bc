#!/usr/bin/env python3
"""A NENA-STA-024 subscriber written with Python's `websockets`, driven line by line.

tests/e2e/sta024.rs runs it: each line on stdin is one JSON command, each answer one JSON line
on stdout, so the Rust test decides what to send and checks what came back (the EIDOs against
NENA's schema) while the WebSocket itself is spoken by an independent implementation.

Commands:
  {"op": "connect", "url": "ws://...", "token": "..."}  -> {"connected": <subprotocol or null>}
                                                        or {"refused": <HTTP status>}
  {"op": "send", "message": {...}}                      -> {"sent": true}
  {"op": "recv", "timeout": <seconds>}                  -> {"message": {...}}
                                                        or {"closed": {"code": n, "reason": s}}
                                                        or {"timeout": true}
  {"op": "close"}                                       -> {"closed": {"code": n, "reason": s}}
End of input ends the script.
"""

import asyncio
import json
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SUBPROTOCOL = "emergency-ent1.0"


def answer(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def closed(error):
    frame = error.rcvd
    if frame is None:
        return {"closed": {"code": None, "reason": ""}}
    return {"closed": {"code": frame.code, "reason": frame.reason}}


async def main():
    loop = asyncio.get_running_loop()
    socket = None
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            try:
                socket = await connect(
                    command["url"],
                    additional_headers={"Authorization": "Bearer " + command["token"]},
                    subprotocols=[SUBPROTOCOL],
                    max_size=None,
                )
                answer({"connected": socket.subprotocol})
            except InvalidStatus as error:
                answer({"refused": error.response.status_code})
        elif op == "send":
            await socket.send(json.dumps(command["message"]))
            answer({"sent": True})
        elif op == "recv":
            try:
                text = await asyncio.wait_for(socket.recv(), command["timeout"])
                answer({"message": json.loads(text)})
            except asyncio.TimeoutError:
                answer({"timeout": True})
            except ConnectionClosed as error:
                answer(closed(error))
        elif op == "close":
            await socket.close()
            answer({"closed": {"code": socket.close_code, "reason": socket.close_reason}})
        else:
            raise SystemExit(f"unknown op {op!r}")
    if socket is not None:
        await socket.close()


if __name__ == "__main__":
    print(f"websockets {websockets.__version__}", file=sys.stderr)
    asyncio.run(main())
