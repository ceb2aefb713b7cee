"""Deterministic builders of valid iWmo 3.2 messages for tests, benchmarks and fuzz corpora.

    f = MessageFactory(seed=7)
    toewijzing = f.wmo301(bsn="999900006", producten=[{"einddatum": None}, {}])
    start = f.wmo305(toewijzing)          # starts the toewijzing's product lines
    stop = f.wmo307(start, toewijzing=toewijzing)
    retour = f.wmo302(toewijzing)         # approved: header only, RetourCode 0200
    data = hub.codec.to_xml(toewijzing)

"Valid" means XSD-valid and free of the standard's intra-message rules (CS002 11-proef, CS003
and TR018 date order, TR134/TR135 nothing after the Dagtekening or in the future, CD075-CD080,
CS335/CS336/CS338 on Omvang, Budget and RedenWijziging, TR101 unique keys, TR302 no overlapping
same product, TR006/TR061/CD005/CD025/CD034/CS089 on contacts, CS050/CS139 on names and birth
dates, CS058 StatusAanlevering). Overrides are taken as given, so a caller can also build an
invalid message on purpose. The same seed and calls always give the same messages: all dates
derive from `today` (a fixed date by default), never from the clock.
"""

from __future__ import annotations

from hub.codec import to_xml
from hub.factory.codes import DEFAULT_TODAY, XSLT_VERSIE, bsn_is_valid
from hub.factory.messages import MessageFactory
from hub.messagetypes import MessageType

__all__ = ["DEFAULT_TODAY", "XSLT_VERSIE", "MessageFactory", "bsn_is_valid", "sample_documents"]


def sample_documents(message_type: MessageType, count: int, seed: int = 0) -> list[bytes]:
    """`count` varied valid documents of one type, the same for the same seed (a corpus)."""
    factory = MessageFactory(seed, varied=True)
    return [to_xml(factory.build(message_type)) for _ in range(count)]
