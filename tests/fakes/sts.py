"""AWS STS for tests: moto's real implementation, and a scripted one for what moto cannot do.

    with running_moto_sts() as url:          # GetCallerIdentity answered by moto, any key pair
        os.environ["AWS_ENDPOINT_URL_STS"] = url
    with scripted_sts(error_code="ExpiredToken") as url: ...   # AWS's 403 error document
    with scripted_sts(clock_offset_s=600) as url: ...          # AWS's clock 10 minutes ahead

moto accepts every key pair and always answers with the current time, so an expired token
and a skewed clock are scripted here, in the shapes AWS's Query protocol uses (XML bodies,
`x-amzn-RequestId`, a `Date` header), which is what botocore parses.

The clock is AWS's: the stand-in compares the request's signing time (`X-Amz-Date`) with its
own (now + clock_offset_s) and, more than five minutes apart, refuses as AWS does, in one of
the forms AWS uses (`skew_error`): STS's `SignatureDoesNotMatch` "Signature expired: ..." (or
"Signature not yet current: ..." for a clock ahead), `RequestExpired`, `RequestTimeTooSkewed`.
Within five minutes it answers, its `Date` header showing its clock.
"""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

from moto.server import ThreadedMotoServer

from tests.fakes.loopback import serving

ACCOUNT = "123456789012"
ERROR_MESSAGES = {
    "ExpiredToken": "The security token included in the request is expired",
    "InvalidClientTokenId": "The security token included in the request is invalid.",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the "
    "signature you provided. Check your AWS Secret Access Key and signing method.",
}
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# SigV4 accepts a signing time at most this far from AWS's clock.
SIGNATURE_WINDOW_S = 300
SKEW_ERRORS = ("SignatureDoesNotMatch", "RequestExpired", "RequestTimeTooSkewed")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@contextmanager
def running_moto_sts() -> Iterator[str]:
    """moto's server on a free loopback port, in a thread; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _identity_document(request_id: str) -> str:
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::{ACCOUNT}:user/doctor-test</Arn><UserId>AIDADOCTORTEST</UserId>"
        f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def _error_document(code: str, request_id: str, message: str | None = None) -> str:
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message or ERROR_MESSAGES.get(code, code)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _amz(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(_AMZ_DATE)


def skew_message(code: str, signed_at: float, now: float) -> str:
    """AWS's words for a signing time outside the window, per error code."""
    if code == "SignatureDoesNotMatch":
        if signed_at < now:
            return (
                f"Signature expired: {_amz(signed_at)} is now earlier than "
                f"{_amz(now - SIGNATURE_WINDOW_S)} ({_amz(now)} - 5 min.)"
            )
        return (
            f"Signature not yet current: {_amz(signed_at)} is still later than "
            f"{_amz(now + SIGNATURE_WINDOW_S)} ({_amz(now)} + 5 min.)"
        )
    if code == "RequestExpired":
        return "Request has expired."
    return "The difference between the request time and the current time is too large."


def _signed_at(amz_date: str | None) -> float | None:
    if not amz_date:
        return None
    return datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()


@contextmanager
def scripted_sts(
    *,
    error_code: str | None = None,
    clock_offset_s: float = 0.0,
    skew_error: str = "SignatureDoesNotMatch",
) -> Iterator[str]:
    """An STS endpoint with its own clock that answers every request the same way (or
    `error_code`); yields its URL."""
    if skew_error not in SKEW_ERRORS:
        raise ValueError(f"skew_error must be one of {SKEW_ERRORS}, not {skew_error!r}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = str(uuid.uuid4())
            now = time.time() + clock_offset_s
            signed_at = _signed_at(self.headers.get("X-Amz-Date"))
            if signed_at is not None and abs(now - signed_at) > SIGNATURE_WINDOW_S:
                message = skew_message(skew_error, signed_at, now)
                status, body = 403, _error_document(skew_error, request_id, message)
            elif error_code:
                status, body = 403, _error_document(error_code, request_id)
            else:
                status, body = 200, _identity_document(request_id)
            payload = body.encode()
            self.send_response(status)
            self.send_header("x-amzn-RequestId", request_id)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + clock_offset_s, usegmt=True)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
