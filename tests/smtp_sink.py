#!/usr/bin/env python3
"""An SMTP server for the tests: records every mail it accepts in a directory.

    python3 smtp_sink.py PORT DIR

For each mail: DIR/<n>.eml (raw) and DIR/<n>.json (Message-ID, decoded subject, content types,
text and HTML parts, and its attachments: filename, content type with its parameters, body
decoded — text by its charset, binary as base64). Control, by files in DIR: `tempfail` present
→ every RCPT answers 451 (temporary); recipients starting with "reject" get 550 (permanent);
`hold` present → the answer to DATA waits until it is removed, with `holding` present meanwhile
(a slow server, for what the client does while it waits). DIR/attempts counts RCPT commands.
Prints "ready" once listening.
"""
import asyncio
import base64
import email
import json
import os
import sys
import threading
from email import policy

from aiosmtpd.controller import Controller


def attachment(part):
    body = part.get_content()
    return {
        "filename": part.get_filename(),
        "content_type": part.get_content_type(),
        "params": dict(part["Content-Type"].params),
        "body": body if isinstance(body, str) else base64.b64encode(body).decode("ascii"),
    }


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.count = 0
        self.lock = threading.Lock()

    def _bump_attempts(self):
        path = os.path.join(self.dir, "attempts")
        with self.lock:
            n = int(open(path).read()) if os.path.exists(path) else 0
            with open(path, "w") as f:
                f.write(str(n + 1))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self._bump_attempts()
        if os.path.exists(os.path.join(self.dir, "tempfail")):
            return "451 4.3.0 Temporary failure, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        hold = os.path.join(self.dir, "hold")
        if os.path.exists(hold):
            holding = os.path.join(self.dir, "holding")
            open(holding, "w").close()
            while os.path.exists(hold):
                await asyncio.sleep(0.02)
            # Several clients may have waited: the first one out removes the marker.
            if os.path.exists(holding):
                os.remove(holding)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        summary = {
            "message_id": msg["Message-ID"],
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": [str(a) for a in envelope.rcpt_tos],
            "content_types": [p.get_content_type() for p in msg.walk()],
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": [
                attachment(p) for p in msg.walk() if p.get_content_disposition() == "attachment"
            ],
        }
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, f"{n:04d}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
