"""The typed model mirrors the official XSDs field by field and never shows a BSN in its repr."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path

import pytest
from lxml import etree

import hub.model as model
from hub.messagetypes import MessageType
from hub.model import (
    MESSAGE_CLASSES,
    Achternaam,
    BerichtIdentificatie,
    Client,
    Contact,
    Geboortedatum,
    Header,
    Omvang,
    StartClient,
    StopClient,
    ToegewezenProduct,
    VerkorteNaam,
    VolledigeNaam,
    Wmo301,
    Wmo307,
    element_name,
)

XS = "{http://www.w3.org/2001/XMLSchema}"
BSN = "999900006"


def _xsd_types(path: Path) -> dict[str, list[tuple[str, bool, bool]]]:
    """complexType name -> its sequence as (element name, optional, repeats), read from an XSD."""
    types: dict[str, list[tuple[str, bool, bool]]] = {}
    for complex_type in etree.parse(str(path)).getroot().iter(f"{XS}complexType"):
        name = complex_type.get("name")
        sequence = complex_type.find(f"{XS}sequence")
        if name is None or sequence is None:
            continue
        types[name] = [
            (el.get("name", ""), el.get("minOccurs") == "0", el.get("maxOccurs") == "unbounded")
            for el in sequence.iter(f"{XS}element")
        ]
    return types


def _model_fields(cls: type, *, retour: bool) -> list[tuple[str, bool | None]]:
    """(element name, optional) per field of a model class, as the codec maps it.

    Optional means "may be None or empty". Required fields may still have a convenience default
    (BerichtVersie 3, XsdVersie 1.0.0). RetourCodes is required or not depending on where it
    sits, while the model always defaults it to (), so its flag is not compared (None).
    """
    out: list[tuple[str, bool | None]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("retour"):
            if retour:
                out.append((element_name(f.name), None))
            continue
        out.append((element_name(f.name), f.default is None or f.default == ()))
    return out


def _expected(sequence: list[tuple[str, bool, bool]]) -> list[tuple[str, bool | None]]:
    return [(name, None if name == "RetourCodes" else optional) for name, optional, _ in sequence]


def _twin_path(reference_dir: Path, message_type: MessageType) -> Path:
    """Heen XSDs are official iWmo; retours come from their iJw twins (same structure)."""
    if not message_type.is_retour:
        return reference_dir / "xsd" / f"{message_type.name}.xsd"
    jw = reference_dir.parent.parent / "jw" / "bronnen" / "xsd"
    return jw / f"JW{message_type.name[3:]}.xsd"


_MESSAGE_TYPES: dict[str, type] = {
    "Relatie": model.Relatie,
    "Contact": Contact,
    "ToegewezenProduct": ToegewezenProduct,
    "StartProduct": model.StartProduct,
    "StopProduct": model.StopProduct,
}
_CLIENT_OF = {
    MessageType.WMO301: Client,
    MessageType.WMO302: Client,
    MessageType.WMO305: StartClient,
    MessageType.WMO306: StartClient,
    MessageType.WMO307: StopClient,
    MessageType.WMO308: StopClient,
}


@pytest.mark.reference
@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda mt: mt.name)
def test_message_classes_follow_the_xsd_sequences(
    reference_dir: Path, message_type: MessageType
) -> None:
    types = _xsd_types(_twin_path(reference_dir, message_type))
    retour = message_type.is_retour
    checked = 0
    for type_name, sequence in types.items():
        if type_name == "Client":
            cls: type = _CLIENT_OF[message_type]
        elif type_name == "Header":
            cls = model.RetourHeader if retour else Header
        elif type_name in _MESSAGE_TYPES:
            cls = _MESSAGE_TYPES[type_name]
        else:
            continue
        assert _model_fields(cls, retour=retour) == _expected(sequence), (
            f"{message_type.name} {type_name}"
        )
        checked += 1
    assert checked >= 3  # Header, Client and the product line at least
    # The message root: Header then Client (optional in a retour).
    root = _expected(types["Root"])
    assert _model_fields(MESSAGE_CLASSES[message_type], retour=retour) == root


@pytest.mark.reference
@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda mt: mt.name)
def test_wrapper_fields_name_their_repeated_child(
    reference_dir: Path, message_type: MessageType
) -> None:
    types = _xsd_types(_twin_path(reference_dir, message_type))
    classes = [_CLIENT_OF[message_type], model.Relatie, Contact, model.RetourHeader]
    wrappers = {
        element_name(f.name): f.metadata["item"]
        for cls in classes
        for f in dataclasses.fields(cls)
        if "item" in f.metadata
    }
    for wrapper, item in wrappers.items():
        if wrapper not in types:
            continue  # e.g. StartProducten in a 301
        assert [(name, rep) for name, _, rep in types[wrapper]] == [(item, True)]


@pytest.mark.reference
def test_basisschema_types_follow_the_xsd(reference_dir: Path) -> None:
    types = _xsd_types(reference_dir / "xsd" / "basisschema.xsd")
    classes = [
        c
        for c in vars(model).values()
        if isinstance(c, type) and issubclass(c, model.Basis) and c is not model.Basis
    ]
    assert len(classes) >= 14
    for cls in classes:
        sequence = types[f"CDT_{cls.__name__}"]
        assert _model_fields(cls, retour=False) == _expected(sequence), cls.__name__


def test_element_names_map_one_to_one() -> None:
    assert element_name("toewijzing_nummer") == "ToewijzingNummer"
    assert element_name("bericht_xsd_versie") == "BerichtXsdVersie"
    assert element_name("telefoon01") == "Telefoon01"
    assert element_name("xsd_versie_retour") == "XsdVersieRetour"
    assert element_name("bsn") == "Bsn"


def test_field_types_are_precise() -> None:
    hints = typing.get_type_hints(ToegewezenProduct)
    assert hints["toewijzing_nummer"] is int
    assert hints["ingangsdatum"] is dt.date
    assert hints["toewijzingstijd"] is dt.time
    assert hints["einddatum"] == dt.date | None
    assert typing.get_type_hints(Client)["toegewezen_producten"] == tuple[ToegewezenProduct, ...]


def _client() -> Client:
    return Client(
        bsn=BSN,
        geboortedatum=Geboortedatum(datum=dt.date(1967, 8, 13)),
        geslacht="1",
        naam=VolledigeNaam(geslachtsnaam=Achternaam(achternaam="Wit"), naam_gebruik="1"),
        contactgegevens=(Contact(soort="01"),),
        toegewezen_producten=(
            ToegewezenProduct(
                toewijzing_nummer=101,
                toewijzingsdatum=dt.date(2023, 8, 13),
                toewijzingstijd=dt.time(12, 34, 56),
                ingangsdatum=dt.date(2023, 1, 1),
                omvang=Omvang(volume=10, eenheid="01", frequentie="1"),
            ),
        ),
    )


def test_bsn_is_masked_in_repr_and_str() -> None:
    header = Header(
        bericht_code="414",
        afzender="0384",
        ontvanger="42420001",
        bericht_identificatie=BerichtIdentificatie(
            identificatie="1", dagtekening=dt.date(2023, 8, 13)
        ),
    )
    message = Wmo301(header=header, client=_client())
    for text in (repr(message), str(message), repr(message.client), f"{message.client}"):
        assert BSN not in text
        assert "*****0006" in text
        assert "Wit" in text  # the rest of the object is still shown
    short = StopClient(
        bsn=BSN,
        geboortedatum=Geboortedatum(datum=dt.date(1960, 1, 1)),
        geslacht="2",
        naam=VerkorteNaam(geslachtsnaam=Achternaam(achternaam="Vries")),
        stop_producten=(),
    )
    assert BSN not in repr(Wmo307(header=header, client=short))


def test_objects_are_frozen_hashable_and_slotted() -> None:
    client = _client()
    with pytest.raises(dataclasses.FrozenInstanceError):
        client.bsn = "123456782"  # type: ignore[misc]
    assert not hasattr(client, "__dict__")
    assert client == _client() and hash(client) == hash(_client())
    assert client != dataclasses.replace(client, geslacht="2")
    with pytest.raises(TypeError):
        Omvang(10, "01", "1")  # type: ignore[call-arg]  # keyword-only: no positional mix-ups


def test_each_message_class_knows_its_type() -> None:
    assert set(MESSAGE_CLASSES) == set(MessageType)
    for message_type, cls in MESSAGE_CLASSES.items():
        assert cls.message_type is message_type
        assert cls.__name__ == f"Wmo{message_type.name[3:]}"
