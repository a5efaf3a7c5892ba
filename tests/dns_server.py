"""A real DNS responder on 127.0.0.1 at a random UDP port, for the domain checks.

It answers TXT questions from its own small zone, built with dnspython's message
classes, and can be told to answer SERVFAIL for a name or to drop its packets. A name
can be a CNAME, answered as a recursive resolver does: the chain, then the TXT records
of the name it ends at.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

# A TXT record is either one value (split into 255-byte character-strings, as zone
# files do) or the exact character-strings to send.
TxtRecord = str | Sequence[str]


class DnsResponder:
    def __init__(self) -> None:
        self._zone: dict[dns.name.Name, list[tuple[bytes, ...]]] = {}
        self._cnames: dict[dns.name.Name, dns.name.Name] = {}
        self._servfail: set[dns.name.Name] = set()
        self._drop: set[dns.name.Name] = set()
        self._lock = threading.Lock()
        self.questions: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port: int = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        """The nameserver as ORGADMIN_DNS_NAMESERVERS writes it."""
        return f"127.0.0.1:{self.port}"

    def set_txt(self, name: str, *records: TxtRecord) -> None:
        """Serve these TXT records on `name` (none: the name exists, without TXT)."""
        strings = [_character_strings(record) for record in records]
        with self._lock:
            self._zone[_name(name)] = strings

    def set_cname(self, name: str, target: str) -> None:
        """Make `name` an alias of `target` (and nothing else, as DNS requires)."""
        with self._lock:
            self._zone.pop(_name(name), None)
            self._cnames[_name(name)] = _name(target)

    def remove(self, name: str) -> None:
        """Forget `name`: questions about it get NXDOMAIN."""
        with self._lock:
            self._zone.pop(_name(name), None)
            self._cnames.pop(_name(name), None)

    def servfail(self, name: str, enabled: bool = True) -> None:
        with self._lock:
            (self._servfail.add if enabled else self._servfail.discard)(_name(name))

    def drop(self, name: str, enabled: bool = True) -> None:
        """Read and ignore questions about `name`, as a lost packet looks."""
        with self._lock:
            (self._drop.add if enabled else self._drop.discard)(_name(name))

    def start(self) -> DnsResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self._reply(wire)
            if reply is not None:
                self._socket.sendto(reply, client)

    def _reply(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        question = query.question[0]
        name = question.name.canonicalize()
        with self._lock:
            self.questions.append(
                (name.to_text(), dns.rdatatype.to_text(question.rdtype))
            )
            if name in self._drop:
                return None
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if name in self._servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            # Follow aliases as a recursive resolver does, answering with the chain.
            while name in self._cnames and len(response.answer) < 8:
                target = self._cnames[name]
                response.answer.append(
                    dns.rrset.from_text(name, 60, "IN", "CNAME", target.to_text())
                )
                name = target
            if name not in self._zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self._zone[name]:
                rrset = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.TXT)
                for strings in self._zone[name]:
                    rrset.add(
                        dns.rdtypes.ANY.TXT.TXT(
                            dns.rdataclass.IN, dns.rdatatype.TXT, strings
                        ),
                        ttl=60,
                    )
                response.answer.append(rrset)
            # Otherwise the name exists without TXT: NOERROR with no answer.
        return response.to_wire()


@contextlib.contextmanager
def serving(settings, *, timeout: float = 0.4) -> Iterator[DnsResponder]:
    """Start a responder and point the app's DNS settings at it."""
    responder = DnsResponder().start()
    settings.ORGADMIN_DNS_NAMESERVERS = [responder.address]
    settings.ORGADMIN_DNS_TIMEOUT = timeout
    try:
        yield responder
    finally:
        responder.stop()


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text).canonicalize()


def _character_strings(record: TxtRecord) -> tuple[bytes, ...]:
    if isinstance(record, str):
        data = record.encode()
        return tuple(data[i : i + 255] for i in range(0, len(data), 255)) or (b"",)
    return tuple(part.encode() for part in record)
