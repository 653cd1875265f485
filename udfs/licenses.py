"""Repository license → license_type (pure Python, no Spark).

A license value is one SPDX id or a comma-joined list of them (The Stack lists every
license detected in a repository). The three classes follow The Stack v2 (docs/recipe.md §2.2):
`permissive` when every id is on the allow-list, `no_license` when there is none,
`non_permissive` otherwise.
"""
from __future__ import annotations

PERMISSIVE = "permissive"
NON_PERMISSIVE = "non_permissive"
NO_LICENSE = "no_license"
LICENSE_TYPES = (PERMISSIVE, NON_PERMISSIVE, NO_LICENSE)

# Select-stage reasons for a license type the policy does not keep.
LICENSE_NOT_PERMISSIVE = "license_not_permissive"
NO_LICENSE_REASON = "no_license"

# Values that say "nothing was detected" rather than naming a license (GitHub's API uses
# NOASSERTION for an unrecognised license file; docs/recipe.md §2.2 treats it as absent).
NOT_A_LICENSE = frozenset({"", "noassertion", "none", "null", "unknown"})


def split_ids(value: str | None) -> list[str]:
    """'MIT, Apache-2.0' → ['MIT', 'Apache-2.0']; placeholders such as NOASSERTION are dropped."""
    if value is None:
        return []
    ids = []
    for part in value.replace(";", ",").split(","):
        part = part.strip().strip("[]\"' ")
        if part.lower() not in NOT_A_LICENSE:
            ids.append(part)
    return ids


def license_type(value: str | None, permissive: set[str] | frozenset[str]) -> str:
    """Class of a repository's license value; `permissive` holds lower-cased SPDX ids."""
    ids = split_ids(value)
    if not ids:
        return NO_LICENSE
    if all(i.lower() in permissive for i in ids):
        return PERMISSIVE
    return NON_PERMISSIVE


def policy_reason(ltype: str, keep: set[str] | frozenset[str]) -> str | None:
    """The rejection reason for a license type the policy (`select.license_policy`) drops."""
    if ltype in keep:
        return None
    return NO_LICENSE_REASON if ltype == NO_LICENSE else LICENSE_NOT_PERMISSIVE


def non_permissive_ids(value: str | None, permissive) -> list[str]:
    return [i for i in split_ids(value) if i.lower() not in permissive]
