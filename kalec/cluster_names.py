"""What the targets accept as names and values, checked once at compile time.

A tag or a notebook setting that the frontend accepts must also be accepted by Kubernetes, KFP
and Argo; otherwise the user learns of the mistake from a cluster, long after compiling. Each
function returns ``None`` when the text is acceptable, else the reason in words. The rules are
those of Kubernetes (names, labels, resource quantities), of the container image reference
grammar, and of kfp 2.17's own checks on resources (``PipelineTask.set_cpu_limit`` and its kin).
"""

from __future__ import annotations

import re

INT32_MAX = 2**31 - 1

# Patterns as text, compiled (and kept) by ``re`` when first used: most compiles validate none
# of these, and compiling them all took a fiftieth of a small build.

# Kubernetes: DNS-1123 subdomains (object names), label keys and values.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_QUALIFIED_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SECRET_KEY = r"[-._a-zA-Z0-9]+"

# Resource quantities as kfp accepts them (a subset of Kubernetes' quantity grammar).
_CPU = r"([0-9]*\.)?[0-9]+m?"
_MEMORY = r"[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?"
_COUNT = r"[0-9]+"

# Container image references (the grammar of the distribution project's reference package).
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = (
    rf"(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)

# A pip requirement as a step installs it: a name, extras, version specifiers. Nothing else,
# since kfp writes the requirement into a shell command line.
_REQUIREMENT = (
    r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*\])?"
    r"(?:(?:===|==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+"
    r"(?:,(?:===|==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+)*)?"
)


def digest(text: str, length: int = 12) -> str:
    """A short hex digest of ``text``: what keeps two long names apart once shortened."""
    import hashlib  # only long names need it: loading OpenSSL is a tenth of a small build

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def normalized_name(name: str) -> str:
    """Lower-case letters, digits and '-': how cluster targets spell a step or pipeline name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


PIPELINE_NAME_MAX = 128  # kfp: ^[a-z0-9][a-z0-9-]{0,127}$


def pipeline_name(name: str) -> str:
    """A pipeline's name as KFP and Kubernetes take it: ``normalized_name``, never empty, at
    most 128 characters (a longer one keeps its start and a digest of the whole, so that two
    long names stay apart)."""
    shown = normalized_name(name) or "pipeline"
    if len(shown) <= PIPELINE_NAME_MAX:
        return shown
    return shown[: PIPELINE_NAME_MAX - 13].rstrip("-") + "-" + digest(name)


def image_problem(image: str) -> str | None:
    if len(image) > 4096 or not re.fullmatch(_IMAGE, image):
        return (
            f"'{image}' is not a container image reference (such as python:3.11-slim or "
            "registry.example.com/team/image:1.0)"
        )
    return None


def requirement_problem(requirement: str) -> str | None:
    if len(requirement) > 500 or not re.fullmatch(_REQUIREMENT, requirement):
        return (
            f"'{requirement}' is not a package requirement such as numpy==1.26.4 or "
            "'pandas>=2,<3' (no spaces, URLs or options)"
        )
    return None


def quantity_problem(resource: str, quantity: str) -> str | None:
    """Why ``limit:RESOURCE:QUANTITY`` cannot be set on a cluster step, or None."""
    if resource == "cpu":
        if not re.fullmatch(_CPU, quantity) or len(quantity) > 15:
            return "a cpu limit is a number of cores (2, 0.5) or of millicores (500m)"
        if float(quantity.rstrip("m")) == 0:
            return "a cpu limit must be more than zero"
        return None
    if resource == "memory":
        if not re.fullmatch(_MEMORY, quantity) or len(quantity) > 18:
            return (
                "a memory limit is a whole number of bytes with an optional unit "
                "(K, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei), e.g. 512Mi or 4Gi; "
                "write 1.5Gi as 1536Mi"
            )
        if int(re.match(r"[0-9]+", quantity).group()) == 0:
            return "a memory limit must be more than zero"
        return None
    if "/" not in resource:
        return (
            f"unknown resource '{resource}': limit cpu, memory, or a device such as "
            "nvidia.com/gpu or amd.com/gpu"
        )
    if not re.fullmatch(_COUNT, quantity) or len(quantity) > 6 or int(quantity) == 0:
        return f"a {resource} limit is a whole number of devices from 1 to 999999"
    return None


def storage_problem(size: str, storage_class: str | None) -> str | None:
    """Why a volume of ``size`` in ``storage_class`` cannot be asked of a cluster, or None."""
    if not re.fullmatch(_MEMORY, size) or len(size) > 18 or not int(re.match(r"[0-9]+", size)[0]):
        return (
            f"'{size}' is not a size of storage: a whole number of bytes above zero with an "
            "optional unit (K, M, G, T or Ki, Mi, Gi, Ti), e.g. 10Gi"
        )
    if storage_class is not None and (
        len(storage_class) > 253 or not re.fullmatch(_DNS_SUBDOMAIN, storage_class)
    ):
        return f"'{storage_class}' is not a storage class name (lower case, digits, '-', '.')"
    return None


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.fullmatch(_DNS_SUBDOMAIN, prefix)):
        return f"the prefix of key '{key}' is not a DNS name (lower case, digits, '-', '.')"
    if len(name) > 63 or not re.fullmatch(_QUALIFIED_NAME, name):
        return (
            f"key '{key}' is not a Kubernetes key: at most 63 letters, digits, '-', '_' and "
            "'.', starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
        return (
            f"label value '{value}' is not a Kubernetes label value: at most 63 letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return None


def object_name_problem(name: str, what: str) -> str | None:
    """A Kubernetes object name (a secret, a volume claim): a DNS-1123 subdomain."""
    if len(name) > 253 or not re.fullmatch(_DNS_SUBDOMAIN, name):
        return (
            f"{what} '{name}' is not a Kubernetes name: lower-case letters, digits, '-' and "
            "'.', starting and ending with a letter or digit"
        )
    return None


def secret_key_problem(key: str) -> str | None:
    if len(key) > 253 or not re.fullmatch(_SECRET_KEY, key):
        return f"secret key '{key}' may hold only letters, digits, '-', '_' and '.'"
    return None


def mount_path_problem(path: str) -> str | None:
    if not path.startswith("/") or any(not c.isprintable() for c in path) or len(path) > 4096:
        return f"mount path {path!r} must be an absolute path of printable characters"
    return None


def count_problem(unit: str, value: int, limit: int = INT32_MAX) -> str | None:
    if value > limit:
        return f"{value:,} is more {unit} than the targets accept (at most {limit:,})"
    return None
