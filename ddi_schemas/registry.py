"""Which official XSD validates which DDI-Lifecycle version, found, verified and compiled once.

The version comes from the namespace of the DDI root element (``ddi:instance:3_3`` ->
3.3). The XSD files come, in order, from the directory named by the
``CATALOGUE_DDI_SCHEMAS`` setting (``3.3/`` and ``3.2/`` subfolders), then from an
installed package known to ship the official files. Every file is checked against the
SHA-256 of the official release before it is used; a mismatch or a missing version is
a :class:`SchemaUnavailable` error that names every place looked at.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lxml import etree

from catalogue.errors import SchemaUnavailable, UnusableInput
from ddi_schemas.official import OFFICIAL_SHA256

SUPPORTED_VERSIONS = ("3.3", "3.2")
XS = "http://www.w3.org/2001/XMLSchema"
_DDI_NAMESPACE = re.compile(r"^ddi:([a-z_]+):(\d+)_(\d+)$")


def ddi_version_of_namespace(namespace: str) -> str | None:
    """``ddi:instance:3_3`` -> ``3.3``; None when the namespace is not a DDI-L one."""
    match = _DDI_NAMESPACE.match(namespace or "")
    if match is None:
        return None
    return f"{match.group(2)}.{match.group(3)}"


def check_supported(version: str, namespace: str) -> str:
    if version not in SUPPORTED_VERSIONS:
        raise UnusableInput(
            f"DDI-Lifecycle {version} (namespace {namespace}) is not supported; "
            "the catalogue reads DDI-L 3.2 and 3.3"
        )
    return version


@dataclass(frozen=True)
class PackageSource:
    """An installed package that ships the official XSDs of one DDI-L version."""

    package: str
    folder: str
    version: str
    #: official file name -> file name in the package, where the package renamed it
    renamed: dict[str, str] = field(default_factory=dict)


#: Packages tried after the configured directory. ddi-l's "3.2" bundle is not the
#: official 3.2 (it is 3.3 with renamed namespaces), so only its 3.3 bundle is listed.
PACKAGE_SOURCES: tuple[PackageSource, ...] = (
    PackageSource("ddi_l", "schemas/ddi/v3_3", "3.3", {"instance.xsd": "instance_3_3.xsd"}),
)


@dataclass(frozen=True)
class CompiledSchema:
    """A verified official XSD, compiled on first use, and what the reader needs to know
    about its elements, read from its files on first use.

    Each is needed without the other: reading needs only the element sets, and a large
    file is validated by a helper process that compiles its own, so ``catalogue
    validate`` and ``publish`` of a large file do without compiling here (about 0.1 s);
    the helper validating a file as a tree needs only the compiled XSD, and reading the
    element sets takes about 25 ms of its start."""

    version: str
    source: str
    #: The entry point of the verified files (``instance.xsd`` or the package's name)
    entry: Path
    #: libxml2 validation contexts are not safe to share between threads.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)
    _compiling: threading.Lock = field(default_factory=threading.Lock, compare=False,
                                       repr=False)
    _compiled: list[etree.XMLSchema] = field(default_factory=list, compare=False,
                                             repr=False)

    @property
    def xsd(self) -> etree.XMLSchema:
        """The compiled schema (once per process; :class:`SchemaUnavailable` if it cannot
        be compiled)."""
        if not self._compiled:
            with self._compiling:
                if not self._compiled:
                    self._compiled.append(_compile_xsd(self.version, self.entry, self.source))
        return self._compiled[0]

    # Clark names ({ns}local) of the global elements whose type derives from
    # r:IdentifiableType, r:VersionableType and r:MaintainableType respectively: once
    # read, plain attributes (the reader looks at them for every element).

    @cached_property
    def identifiable(self) -> frozenset[str]:
        return self._elements[0]

    @cached_property
    def versionable(self) -> frozenset[str]:
        return self._elements[1]

    @cached_property
    def maintainable(self) -> frozenset[str]:
        return self._elements[2]

    @cached_property
    def _elements(self) -> ElementSets:
        # The files were checked to be the official ones: what they say is a fact of the
        # version, kept per user (reading them again took 25 ms of every command's start).
        cached = _cached_elements(self.version)
        if cached is not None:
            return cached
        found = _identifiable_elements(self.entry.parent.glob("*.xsd"))
        _cache_elements(self.version, found)
        return found

    @property
    def compiled(self) -> bool:
        """Whether this process has compiled it already."""
        return bool(self._compiled)

    @property
    def namespaces(self) -> dict[str, str]:
        suffix = self.version.replace(".", "_")
        return {p: f"ddi:{m}:{suffix}" for p, m in _PREFIXES.items()}


_PREFIXES = {
    "ddi": "instance", "r": "reusable", "g": "group", "s": "studyunit", "d": "datacollection",
    "l": "logicalproduct", "c": "conceptualcomponent", "a": "archive", "pi": "physicalinstance",
    "p": "physicaldataproduct", "cm": "comparative", "pr": "ddiprofile", "ds": "dataset",
}

_cache: dict[tuple[str, str], CompiledSchema] = {}
_cache_lock = threading.Lock()


def load_schema(version: str, schema_dir: Path | None) -> CompiledSchema:
    """The verified official XSD for ``version``, once per process and source (compiled
    on first use: see :class:`CompiledSchema`)."""
    if version not in SUPPORTED_VERSIONS:
        raise SchemaUnavailable(f"no official XSD is known for DDI-L {version}")
    key = (version, str(schema_dir.resolve()) if schema_dir else "")
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        found = _locate(version, schema_dir)
        _cache[key] = found
        return found


def compiled_any() -> bool:
    """Whether this process has compiled an XSD (of any version, from anywhere)."""
    with _cache_lock:
        return any(schema.compiled for schema in _cache.values())


def _locate(version: str, schema_dir: Path | None) -> CompiledSchema:
    looked: list[str] = []
    if schema_dir is not None:
        folder = schema_dir / version
        if (folder / "instance.xsd").is_file():
            # an explicit setting is never passed over: a copy that is not official is an
            # error, not a reason to look elsewhere
            problem = _verify(version, folder, {})
            if problem:
                raise SchemaUnavailable(
                    f"the DDI-L {version} XSD files in {folder} (CATALOGUE_DDI_SCHEMAS) are "
                    f"not the official ones; {problem}")
            return _described(version, folder, "instance.xsd", str(folder))
        looked.append(f"{folder}: no instance.xsd (CATALOGUE_DDI_SCHEMAS)")
    else:
        looked.append("CATALOGUE_DDI_SCHEMAS: not set")
    from importlib import resources  # noqa: PLC0415 - 5 ms that the setting spares

    for source in PACKAGE_SOURCES:
        if source.version != version:
            continue
        where = f"package {source.package} ({source.folder})"
        try:
            root = resources.files(source.package) / source.folder
        except ModuleNotFoundError:
            looked.append(f"{where}: not installed")
            continue
        folder = Path(str(root))
        entry = source.renamed.get("instance.xsd", "instance.xsd")
        if not (folder / entry).is_file():
            looked.append(f"{where}: no {entry}")
            continue
        problem = _verify(version, folder, source.renamed)
        if problem:
            looked.append(f"{where}: not the official files; {problem}")
            continue
        return _described(version, folder, entry, where)
    raise SchemaUnavailable(
        f"no official DDI-L {version} XSD found; set CATALOGUE_DDI_SCHEMAS to a directory "
        f"holding {version}/instance.xsd. Looked in: " + "; ".join(looked)
    )


def _verify(version: str, folder: Path, renamed: dict[str, str]) -> str:
    """What keeps the files in ``folder`` from being the official ones ("" if nothing)."""
    expected = OFFICIAL_SHA256[version]
    missing: list[str] = []
    different: list[str] = []
    for name, digest in expected.items():
        path = folder / renamed.get(name, name)
        if not path.is_file():
            missing.append(name)
        elif file_digest(path) != digest:
            different.append(name)
    parts = []
    if different:
        parts.append("differ from the official release: " + ", ".join(sorted(different)))
    if missing:
        parts.append("missing: " + ", ".join(sorted(missing)))
    return "; ".join(parts)


def file_digest(path: Path) -> str:
    """SHA-256 of a file with CRLF turned into LF (see ddi_schemas.official)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def _safe_xsd_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _described(version: str, folder: Path, entry: str, where: str) -> CompiledSchema:
    return CompiledSchema(version, where, folder / entry)


def _compile_xsd(version: str, entry: Path, where: str) -> etree.XMLSchema:
    try:
        return etree.XMLSchema(etree.parse(str(entry), _safe_xsd_parser()))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaUnavailable(
            f"cannot compile the DDI-L {version} XSD in {where}: {exc}") from exc


#: Identifiable, versionable and maintainable elements (see :class:`CompiledSchema`).
ElementSets = tuple[frozenset[str], frozenset[str], frozenset[str]]
#: Changed whenever :func:`_identifiable_elements` would find other sets in the same files.
_ELEMENTS_FORMAT = 1
#: The sets' names in the cache file, in :data:`ElementSets` order.
_ELEMENT_KINDS = ("identifiable", "versionable", "maintainable")


def _elements_cache(version: str) -> Path | None:
    """Where the element sets of the official ``version`` are kept: the user's cache
    directory (``XDG_CACHE_HOME``, else ``~/.cache``), under a name that changes with the
    official files' digests and with the way the sets are derived."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # no home directory
        return None
    digests = json.dumps(OFFICIAL_SHA256[version], sort_keys=True).encode()
    key = hashlib.sha256(digests).hexdigest()[:16]
    return base / "cohort-catalogue" / f"ddi-{version}-elements-{_ELEMENTS_FORMAT}-{key}.json"


def _cached_elements(version: str) -> ElementSets | None:
    """The sets kept by :func:`_cache_elements`; None when there are none (or none that
    can be read: they are then derived again and kept anew)."""
    path = _elements_cache(version)
    if path is None:
        return None
    try:
        kept = json.loads(path.read_bytes())
        lists = [kept[name] for name in _ELEMENT_KINDS]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(names, list) and names and all(isinstance(n, str) for n in names)
               for names in lists):
        return None
    identifiable, versionable, maintainable = (frozenset(names) for names in lists)
    return identifiable, versionable, maintainable


def _cache_elements(version: str, sets: ElementSets) -> None:
    """Keep ``sets`` for the next process (written whole, then renamed: a reader never
    sees half a file); a cache that cannot be written is done without."""
    import tempfile  # noqa: PLC0415 - 5 ms, once per user and version

    path = _elements_cache(version)
    if path is None:
        return
    text = json.dumps({name: sorted(found) for name, found in zip(_ELEMENT_KINDS, sets,
                                                                  strict=True)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _identifiable_elements(files: Iterable[Path]) -> ElementSets:
    """Global elements whose type derives from the reusable Identifiable/Versionable/
    Maintainable types, read from the XSD's own type hierarchy."""
    base_of: dict[str, str] = {}
    element_type: dict[str, str] = {}
    substitution_head: dict[str, str] = {}
    reusable_ns = ""
    for path in files:
        root = etree.parse(str(path), _safe_xsd_parser()).getroot()
        target = root.get("targetNamespace", "")
        if target.startswith("ddi:reusable:"):
            reusable_ns = target
        for ctype in root.iterfind(f"{{{XS}}}complexType"):
            name = ctype.get("name")
            ext = ctype.find(f"{{{XS}}}complexContent/*[@base]")
            if name and ext is not None:
                base_of[f"{{{target}}}{name}"] = _clark(ext.get("base", ""), ext.nsmap, target)
        for element in root.iterfind(f"{{{XS}}}element"):
            name = element.get("name")
            if not name:
                continue
            clark = f"{{{target}}}{name}"
            if element.get("type"):
                element_type[clark] = _clark(element.get("type", ""), element.nsmap, target)
            if element.get("substitutionGroup"):
                substitution_head[clark] = _clark(
                    element.get("substitutionGroup", ""), element.nsmap, target)

    def derives(type_name: str, ancestor: str) -> bool:
        seen = set()
        while type_name and type_name not in seen:
            if type_name == ancestor:
                return True
            seen.add(type_name)
            type_name = base_of.get(type_name, "")
        return False

    def type_of(element: str) -> str:
        seen = set()
        while element not in element_type and element in substitution_head:
            if element in seen:
                break
            seen.add(element)
            element = substitution_head[element]
        return element_type.get(element, "")

    sets: list[frozenset[str]] = []
    # The concrete Identifiable/Versionable/Maintainable types are siblings; the abstract
    # ones form the chain every DDI identifiable derives from.
    for base in ("AbstractIdentifiableType", "AbstractVersionableType",
                 "AbstractMaintainableType"):
        ancestor = f"{{{reusable_ns}}}{base}"
        names = set()
        for element in set(element_type) | set(substitution_head):
            if derives(type_of(element), ancestor):
                names.add(element)
        sets.append(frozenset(names))
    return sets[0], sets[1], sets[2]


def _clark(qname: str, nsmap: dict[str | None, str], target: str) -> str:
    prefix, _, local = qname.rpartition(":")
    namespace = nsmap.get(prefix or None, target if not prefix else "")
    return f"{{{namespace}}}{local}"
