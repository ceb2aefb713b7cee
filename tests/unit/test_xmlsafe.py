"""Bad and hostile input gets a clear error, never a crash, a hang or a network call."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hub.errors import (
    HostileXml,
    InvalidMessage,
    MalformedXml,
    MessageTooLarge,
    UnknownMessageType,
)
from hub.validation import Validator
from hub.xmlsafe import MAX_MESSAGE_BYTES, parse_bytes

NS301 = "http://www.istandaarden.nl/iwmo/3_2/wmo301/schema"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real TCP listener on loopback: if the parser fetched anything, it would connect here."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    yield server
    server.close()


def assert_nobody_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def only_error(data: bytes) -> InvalidMessage:
    errors = list(Validator().iter_errors(data))
    assert len(errors) == 1, errors
    return errors[0]


def test_not_xml_at_all() -> None:
    error = only_error(b"this is not xml, it is a shopping list")
    assert isinstance(error, MalformedXml)
    assert error.rule == "XML"
    assert "not well-formed" in error.message


def test_empty_document() -> None:
    with pytest.raises(MalformedXml, match="empty"):
        parse_bytes(b"  \n")


def test_truncated_document_reports_line() -> None:
    data = f'<?xml version="1.0"?>\n<Bericht xmlns="{NS301}">\n<Header>\n<BerichtCode>41'
    error = only_error(data.encode())
    assert isinstance(error, MalformedXml)
    assert error.line is not None and error.line >= 3


def test_wrong_encoding_declaration_is_refused() -> None:
    data = f'<?xml version="1.0" encoding="ISO-8859-1"?><Bericht xmlns="{NS301}"/>'
    error = only_error(data.encode("latin-1"))
    assert isinstance(error, MalformedXml)
    assert "ISO-8859-1" in error.message and "UTF-8" in error.message


def test_bytes_that_contradict_the_utf8_declaration() -> None:
    data = f'<?xml version="1.0" encoding="UTF-8"?><Bericht xmlns="{NS301}">Café</Bericht>'
    error = only_error(data.encode("latin-1"))
    assert isinstance(error, MalformedXml)


def test_utf16_document_is_refused() -> None:
    data = f'<?xml version="1.0" encoding="UTF-16"?><Bericht xmlns="{NS301}"/>'
    error = only_error(data.encode("utf-16"))
    assert isinstance(error, MalformedXml)
    assert "UTF-8" in error.message


def test_unknown_namespace() -> None:
    error = only_error(b'<Bericht xmlns="urn:example:not-iwmo"><Header/></Bericht>')
    assert isinstance(error, UnknownMessageType)
    assert "urn:example:not-iwmo" in error.message


def test_iwmo_message_type_the_hub_does_not_handle() -> None:
    ns315 = "http://www.istandaarden.nl/iwmo/3_2/wmo315/schema"
    error = only_error(f'<Bericht xmlns="{ns315}"/>'.encode())
    assert isinstance(error, UnknownMessageType)
    assert "WMO301" in error.message


def test_wrong_root_element() -> None:
    error = only_error(f'<Rapport xmlns="{NS301}"/>'.encode())
    assert isinstance(error, UnknownMessageType)


def test_external_entity_xxe_is_refused() -> None:
    data = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE Bericht [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        f'<Bericht xmlns="{NS301}">&xxe;</Bericht>'
    ).encode()
    error = only_error(data)
    assert isinstance(error, HostileXml)
    assert "root:" not in error.message


def test_external_dtd_over_the_network_is_refused(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    data = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE Bericht SYSTEM "http://127.0.0.1:{port}/evil.dtd">\n'
        f'<Bericht xmlns="{NS301}"/>'
    ).encode()
    assert isinstance(only_error(data), HostileXml)
    assert_nobody_connected(listener)


def test_schema_location_hints_are_not_followed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    data = (
        f'<Bericht xmlns="{NS301}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{NS301} http://127.0.0.1:{port}/WMO301.xsd"><Header/></Bericht>'
    ).encode()
    errors = list(Validator().iter_errors(data))
    assert errors and all(e.rule == "XSD" for e in errors)
    assert_nobody_connected(listener)


def test_entity_expansion_bomb_is_refused() -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE Bericht [{"".join(entities)}]>\n'
        f'<Bericht xmlns="{NS301}">&lol9;</Bericht>'
    ).encode()
    assert isinstance(only_error(data), HostileXml)


def test_doctype_behind_a_long_comment_is_still_refused() -> None:
    data = (
        '<?xml version="1.0"?>\n<!--' + "x" * 10_000 + "-->\n"
        '<!DOCTYPE Bericht [<!ENTITY e "boom">]>\n'
        f'<Bericht xmlns="{NS301}">&e;</Bericht>'
    ).encode()
    assert isinstance(only_error(data), HostileXml)


def test_document_over_25_mb_is_refused_before_parsing() -> None:
    data = b"<a>" + b" " * MAX_MESSAGE_BYTES + b"</a>"
    error = only_error(data)
    assert isinstance(error, MessageTooLarge)
    assert error.rule == "OP179"


def test_size_limit_is_configurable() -> None:
    with pytest.raises(MessageTooLarge):
        parse_bytes(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)


def test_errors_are_value_errors_for_plain_python_callers() -> None:
    with pytest.raises(ValueError):
        Validator().validate(b"<<<")


def test_masking_of_schema_error_values() -> None:
    from hub.masking import mask_bsn, mask_quoted, mask_text

    assert mask_bsn("999931829") == "*****1829"
    assert mask_text("bsn 999931829 and id 123456789012") == "bsn *****1829 and id 123456789012"
    message = (
        "Element 'Bsn': [facet 'pattern'] The value '9999318290' "
        "is not accepted by the pattern '[0-9]{9}'."
    )
    masked = mask_quoted(message)
    assert "9999318290" not in masked and "'******8290'" in masked
    assert "Element 'Bsn'" in masked and "[0-9]{9}" in masked
    assert "'*****1829'" in mask_quoted("Element 'Bsn': '999931829' is not a valid value")
