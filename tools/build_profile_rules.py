"""Build the compact profile rules in profiles/rules/ from the GP Connect 1.2.7 StructureDefinitions.

Run at build time, never at run time (the product does not ship or read the official files):

    /tmp/venv/bin/python tools/build_profile_rules.py            # write profiles/rules/*.json
    /tmp/venv/bin/python tools/build_profile_rules.py --check    # exit 1 if the committed files differ

Input: the snapshots of the profiles the Foundations and Appointment Management flows use
(`PROFILES`), the extension definitions those profiles name (found by following extension slices),
and the ValueSet/CodeSystem files beside them, all under `<specs>/fhir-stu3/`.

Output: one JSON file per profile, `profiles/rules/<name>.json`, with sorted keys so the committed
files are deterministic. Each file holds the profile's url, version and date, and `elements`: a map
from an element key to what the profile says about it, written only where it says something a
base-STU3 parser does not already check:

    min, max      the profile's cardinality, where narrower than the base resource (`base` in the
                  snapshot); slices always carry both
    mustSupport   true where flagged (informational: GP Connect says "populate where data exists")
    fixed         fixed[x] / pattern[x] values (only primitive ones occur in these profiles)
    binding       required bindings only: the value set URL and, where it can be expanded, its codes
                  by code system (`codes`); `codes` is null when it cannot (SNOMED filters, MIME types)
    slicing       on a sliced element: discriminator paths and open / closed / openAtEnd
    match         on a slice: {discriminator path: value} that puts an instance into the slice
    profile       on an extension slice: the extension's canonical URL (its own rules file, if any)

Element keys are the snapshot paths with slice names kept, e.g. `Patient.identifier:nhsNumber.system`.
Choice elements keep the JSON name the profile narrowed them to (`Extension.valueCodeableConcept`);
an unnarrowed choice keeps `[x]` and means "any value<Type> key". Type-only "slices" of a choice
(`value[x]:valueCodeableConcept`) are not slices and become the narrowed name.

How slicing is treated:
- Extensions (`extension`, `modifierExtension`) are sliced by `url`. A slice's URL comes from its
  type profile (top-level extensions) or from the fixed `url` of its child (parts of a complex
  extension). Extensions whose URL matches no slice are allowed: FHIR's forward compatibility, and
  every extension slicing in these profiles is open.
- Other slicings are by value of a child (`identifier` by `system`, `name` by `use`,
  `PractitionerRole.code` by `coding.system`, `Location.physicalType.coding` by `system`). The slice's
  `match` is the fixed value at that child. An instance belongs to the first slice it matches; each
  slice's cardinality is counted over its matches, and the unsliced element's own rules still apply
  to every instance. Instances matching no slice are allowed unless the slicing is `closed`.
- Descendants of an element the profile forbids (max 0) are dropped: the element cannot appear.

Codes for a required binding come from the ValueSet in the specs folder (enumerated concepts, or a
whole CodeSystem that is also in the folder). Base FHIR value sets that are not in the folder are
taken, for `code` elements only, from the `enum_values` fhir.resources records for that element.
`codes_from` says which.

Readings (`READINGS`): where the GP Connect pages, their own examples and the official provider suite
use a code-system URL other than the one the profile fixes or its value set names, the rule accepts
both and names the reading. These are spec contradictions, recorded here and in each affected rule.

The profile versions are pinned (`PINNED_VERSIONS`): if the specs folder holds a different version
of a profile, the build stops rather than silently changing what the product checks.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ROOT.parent / "shared" / "specs"
DEFAULT_OUT = ROOT / "profiles" / "rules"
NS = {"f": "http://hl7.org/fhir"}
SD_BASE = "https://fhir.nhs.uk/STU3/StructureDefinition/"

# The profiles Foundations and Appointment Management use, pinned to the versions in force for 1.2.7
# (the specs folder is "as of May 2020"). Extension definitions are found from these.
PINNED_VERSIONS: dict[str, str] = {
    "CareConnect-GPC-Patient-1": "1.8.0",
    "CareConnect-GPC-Practitioner-1": "1.2.0",
    "CareConnect-GPC-Organization-1": "1.4.0",
    "CareConnect-GPC-Location-1": "1.3.0",
    "CareConnect-GPC-PractitionerRole-1": "1.2.0",
    "GPConnect-Appointment-1": "1.6.0",
    "GPConnect-Schedule-1": "1.6.0",
    "GPConnect-Slot-1": "1.5.0",
    "GPConnect-OperationOutcome-1": "1.2.0",
    "GPConnect-Searchset-Bundle-1": "1.3.0",
}
PROFILES = tuple(PINNED_VERSIONS)


@dataclass(frozen=True)
class Reading:
    id: str
    canonical: str  # the code-system URL the profile / value set uses
    alias: str  # the URL the GP Connect pages use instead
    text: str


_PAT_SYSTEMS = (
    "The NHS-number verification status and registration type value sets draw on STU3 CodeSystem URLs "
    "(https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-...), while the GP Connect 1.2.7 examples (and the "
    "official provider suite and demonstrator) code them with https://fhir.nhs.uk/CareConnect-... The "
    "bindings accept either system (the catalogue's PAT-SYSTEMS reading)."
)
READINGS: tuple[Reading, ...] = (
    Reading(
        "OO-SYSTEM",
        "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1",
        "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1",
        "GPConnect-OperationOutcome-1 fixes issue.details.coding.system to the Spine-ErrorOrWarningCode-1 "
        "CodeSystem URL, while the error-handling page tells providers to use the ValueSet URL. The profile "
        "rule accepts either; the error checks (GEN-ERR-001) apply the page's reading.",
    ),
    Reading(
        "PAT-SYSTEMS",
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-NHSNumberVerificationStatus-1",
        "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1",
        _PAT_SYSTEMS,
    ),
    Reading(
        "PAT-SYSTEMS",
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1",
        "https://fhir.nhs.uk/CareConnect-RegistrationType-1",
        _PAT_SYSTEMS,
    ),
)
_READING_BY_CANONICAL = {r.canonical: r for r in READINGS}


def _v(el: Any, child: str) -> str | None:
    found = el.find(f"f:{child}", NS)
    return None if found is None else found.get("value")


class Specs:
    """The StructureDefinitions, ValueSets and CodeSystems in the specs folder, by canonical URL."""

    def __init__(self, specs_dir: Path) -> None:
        self.fhir = specs_dir / "fhir-stu3"
        if not self.fhir.is_dir():
            raise SystemExit(f"no FHIR STU3 artefacts at {self.fhir}")
        self.sd = self._index("StructureDefinitions")
        self.vs = self._index("ValueSets")
        self.cs = self._index("CodeSystems")

    def _index(self, folder: str) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for path in sorted((self.fhir / folder).glob("*.xml")):
            url = self.parse(path).find("f:url", NS)
            if url is not None and url.get("value"):
                out.setdefault(url.get("value"), path)
        return out

    def parse(self, path: Path) -> Any:
        return read_xml(path)


def read_xml(path: Path) -> Any:
    """The root element of an official XML artefact.

    Some published artefacts declare no encoding (so UTF-8) yet carry Windows-1252 bytes, such as a
    copyright sign in ValueSet-RARecord-CommunityLanguageSupport-1.xml. Those bytes only ever occur in
    narrative and copyright text, never in the codes and URLs the rules are built from, so the file is
    decoded as Windows-1252 rather than refused.
    """
    data = path.read_bytes()
    try:
        return etree.fromstring(data)
    except etree.XMLSyntaxError as strict_error:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise strict_error from None
        return etree.fromstring(text.encode("utf-8"), etree.XMLParser(encoding="utf-8"))


# --- value sets ---------------------------------------------------------------------------------

def _concepts(el: Any) -> list[str]:
    out = []
    for c in el.findall("f:concept", NS):
        out.append(_v(c, "code"))
        out.extend(_concepts(c))  # hierarchical CodeSystems nest concepts
    return [c for c in out if c]


def expand(specs: Specs, vs_url: str, seen: frozenset[str] = frozenset()) -> dict[str, list[str]] | None:
    """{system: sorted codes} for a ValueSet in the specs folder, or None if it cannot be enumerated."""
    path = specs.vs.get(vs_url)
    if path is None or vs_url in seen:
        return None
    root = specs.parse(path)
    compose = root.find("f:compose", NS)
    if compose is None:
        return None
    codes: dict[str, set[str]] = {}
    for inc in compose.findall("f:include", NS):
        if inc.findall("f:filter", NS):
            return None
        for imported in inc.findall("f:valueSet", NS):
            sub = expand(specs, imported.get("value"), seen | {vs_url})
            if sub is None:
                return None
            for system, cs in sub.items():
                codes.setdefault(system, set()).update(cs)
        system = _v(inc, "system")
        if system is None:
            continue
        listed = _concepts(inc)
        if not listed:
            cs_path = specs.cs.get(system)
            if cs_path is None:
                return None
            listed = _concepts(specs.parse(cs_path))
            if not listed:
                return None
        codes.setdefault(system, set()).update(listed)
    for exc in compose.findall("f:exclude", NS):
        system = _v(exc, "system")
        if system in codes:
            codes[system] -= set(_concepts(exc))
    return {s: sorted(c) for s, c in codes.items()} or None


def _fhir_resources_enum(type_name: str, segments: list[str]) -> list[str] | None:
    """The enum_values fhir.resources records for a base element (e.g. Appointment.status)."""
    import importlib

    try:
        module = importlib.import_module(f"fhir.resources.STU3.{type_name.lower()}")
    except ModuleNotFoundError:
        return None
    model: Any = getattr(module, type_name, None)
    for n, seg in enumerate(segments):
        if model is None or seg not in getattr(model, "model_fields", {}):
            return None
        field = model.model_fields[seg]
        if n == len(segments) - 1:
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            values = extra.get("enum_values")
            return sorted(values) if values else None
        model = _model_of(field.annotation)
    return None


def _model_of(annotation: Any) -> Any:
    stack = [annotation]
    while stack:
        t = stack.pop()
        if hasattr(t, "get_model_klass"):
            return t.get_model_klass()
        stack.extend(typing.get_args(t))
    return None


# --- StructureDefinition -> rules -----------------------------------------------------------------

def element_key(el_id: str, path: str) -> str:
    """Our key for a snapshot element: the path's names, with real slice names kept."""
    out = []
    for id_seg, path_seg in zip(el_id.split("."), path.split("."), strict=True):
        _, _, slice_name = id_seg.partition(":")
        if slice_name and not path_seg.endswith("[x]") and slice_name != path_seg:
            out.append(f"{path_seg}:{slice_name}")
        else:
            out.append(path_seg)
    return ".".join(out)


def _parent_key(key: str) -> str:
    return key.rsplit(".", 1)[0]


def _is_slice(key: str) -> bool:
    return ":" in key.rsplit(".", 1)[-1]


def _unsliced(key: str) -> str:
    """The key of the element a slice belongs to: `Patient.identifier:nhsNumber` -> `Patient.identifier`."""
    head, _, last = key.rpartition(".")
    return f"{head}.{last.split(':')[0]}" if head else last.split(":")[0]


def _fhir_path_segments(key: str) -> list[str]:
    return [seg.split(":")[0] for seg in key.split(".")[1:]]


def build_profile(specs: Specs, sd_path: Path) -> tuple[dict[str, Any], set[str]]:
    """The rules for one StructureDefinition, and the extension URLs it names."""
    root = specs.parse(sd_path)
    url = _v(root, "url")
    type_name = _v(root, "type")
    raw: list[tuple[str, Any]] = []
    for el in root.findall("f:snapshot/f:element", NS):
        raw.append((element_key(el.get("id"), _v(el, "path")), el))

    keys = {key for key, _ in raw}
    forbidden: list[str] = []
    elements: dict[str, dict[str, Any]] = {}
    fixed_at: dict[str, str] = {}
    type_profile_at: dict[str, str] = {}
    slicing_at: dict[str, dict[str, Any]] = {}
    extension_urls: set[str] = set()
    used_readings: set[str] = set()

    for key, el in raw:
        # Slice discriminators need fixed values and extension profiles even inside forbidden slices.
        for child in el:
            if etree.QName(child).localname.startswith(("fixed", "pattern")) and child.get("value") is not None:
                fixed_at[key] = child.get("value")
        for t in el.findall("f:type", NS):
            for p in t.findall("f:profile", NS):
                if _v(t, "code") == "Extension":
                    type_profile_at[key] = p.get("value")

    for key, el in raw:
        if "." not in key:
            continue  # the resource (or Extension) itself
        if any(key.startswith(f + ".") or key.startswith(f + ":") for f in forbidden):
            continue
        rule: dict[str, Any] = {}
        mn, mx = int(_v(el, "min") or 0), _v(el, "max") or "*"
        base = el.find("f:base", NS)
        if _is_slice(key) or base is None:
            rule["min"], rule["max"] = mn, mx  # a slice's cardinality is its own, never the base's
        elif mn > int(_v(base, "min") or 0) or mx != (_v(base, "max") or "*"):
            rule["min"], rule["max"] = mn, mx  # narrower than the base (a profile can only narrow)
        if mx == "0":
            forbidden.append(key)
        base_path = _v(base, "path") if base is not None else None
        if base_path and base_path.endswith("[x]") and not key.endswith("[x]"):
            choice = f"{_parent_key(key)}.{base_path.rsplit('.', 1)[-1]}"
            if choice not in keys:
                rule["narrows"] = choice.rsplit(".", 1)[-1]  # the only value<Type> names allowed are the narrowed ones
        if _v(el, "mustSupport") == "true":
            rule["mustSupport"] = True
        for child in el:
            tag = etree.QName(child).localname
            if tag.startswith(("fixed", "pattern")):
                value = child.get("value")
                if value is None:
                    raise SystemExit(f"{sd_path.name} {key}: complex {tag} is not supported by this generator")
                rule["fixed"] = value
                if value in _READING_BY_CANONICAL and key.endswith(".system"):
                    reading = _READING_BY_CANONICAL[value]
                    rule["alsoAccepted"] = [reading.alias]
                    rule["reading"] = reading.id
                    used_readings.add(reading.id)
        types = el.findall("f:type", NS)
        slicing = el.find("f:slicing", NS)
        if slicing is not None:
            slicing_at[key] = {
                "discriminator": [_v(d, "path") for d in slicing.findall("f:discriminator", NS)],
                "rules": _v(slicing, "rules") or "open",
            }
        binding = el.find("f:binding", NS)
        if binding is not None and _v(binding, "strength") == "required" and mx != "0":
            vs_ref = binding.find("f:valueSetReference/f:reference", NS)
            vs_uri = binding.find("f:valueSetUri", NS)
            vs_url = (vs_ref if vs_ref is not None else vs_uri).get("value").split("|")[0]
            type_codes = [_v(t, "code") for t in types]
            codes = expand(specs, vs_url)
            source = "specs" if codes else None
            if codes is None and type_codes == ["code"]:
                enum = _fhir_resources_enum(type_name, _fhir_path_segments(key))
                if enum:
                    codes, source = {"": enum}, "fhir.resources"
            b: dict[str, Any] = {"valueSet": vs_url, "codes": codes, "codes_from": source}
            aliases = {}
            for system in codes or {}:
                if system in _READING_BY_CANONICAL:
                    reading = _READING_BY_CANONICAL[system]
                    aliases[reading.alias] = system
                    b["reading"] = reading.id
                    used_readings.add(reading.id)
            if aliases:
                b["systemAliases"] = aliases
            rule["binding"] = b
        if rule or _is_slice(key):
            elements[key] = rule

    # Slicing: keep it where the element really has slices; give each slice its `match`.
    for key in list(elements):
        if not _is_slice(key):
            continue
        sliced = _unsliced(key)
        info = slicing_at.get(sliced)
        if info is None:
            raise SystemExit(f"{sd_path.name}: slice {key} without slicing on {sliced}")
        elements.setdefault(sliced, {})["slicing"] = info
        match = {}
        for disc in info["discriminator"]:
            if disc == "url" and key in type_profile_at:
                match["url"] = type_profile_at[key]
            elif f"{key}.{disc}" in fixed_at:
                match[disc] = fixed_at[f"{key}.{disc}"]
            else:
                raise SystemExit(f"{sd_path.name}: cannot find the {disc!r} value for slice {key}")
        elements[key]["match"] = match
        if key in type_profile_at:
            elements[key]["profile"] = type_profile_at[key]
            extension_urls.add(type_profile_at[key])

    out = {
        "url": url,
        "name": _v(root, "name"),
        "version": _v(root, "version"),
        "date": _v(root, "date"),
        "type": type_name,
        "kind": _v(root, "kind"),
        "built_from": f"fhir-stu3/StructureDefinitions/{sd_path.name}",
        "elements": elements,
        "readings": {r.id: r.text for r in READINGS if r.id in used_readings},
    }
    return out, extension_urls


def build(specs_dir: Path = DEFAULT_SPECS) -> dict[str, str]:
    """{file name: JSON text} for every profile and the extensions they reference."""
    specs = Specs(specs_dir)
    files: dict[str, str] = {}
    queue = [SD_BASE + name for name in PROFILES]
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        path = specs.sd.get(url)
        if path is None:
            continue  # a base FHIR extension (e.g. birthPlace): known by URL only
        rules, ext_urls = build_profile(specs, path)
        name = url.rsplit("/", 1)[-1]
        pinned = PINNED_VERSIONS.get(name)
        if pinned is not None and rules["version"] != pinned:
            raise SystemExit(f"{path.name} is version {rules['version']}, pinned {pinned} for GP Connect 1.2.7")
        files[f"{name}.json"] = json.dumps(rules, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        queue.extend(sorted(ext_urls))
    missing = [n for n in PROFILES if f"{n}.json" not in files]
    if missing:
        raise SystemExit(f"profiles not found in {specs.fhir}: {missing}")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS, help="the shared specs folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the rules files go")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = parser.parse_args(argv)
    files = build(args.specs)
    if args.check:
        present = {p.name: p.read_text() for p in args.out.glob("*.json")}
        if present != files:
            stale = sorted(set(present) ^ set(files) | {n for n in files if present.get(n) != files[n]})
            print(f"profile rules are out of date: {stale}", file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.json"):
        if old.name not in files:
            old.unlink()
    for name, text in sorted(files.items()):
        (args.out / name).write_text(text)
    print(f"wrote {len(files)} rules files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
