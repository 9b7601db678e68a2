"""What an experiment may touch. Checked for every activity before the first one runs.

- Traffic goes to loopback only (127.0.0.0/8, ::1, localhost): an experiment never reaches another machine.
- With a vigil.yaml (`-c`), a service is named by its configured name; an action against a service (by
  name, or by a URL on one of its ports) needs `chaos: allowed` on that service.
- Probes only read: they may look at any loopback URL, services that do not allow chaos included."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vigil.config.schema import VigilConfig
from vigil.config.sources import HttpProbe, ScrapeSource

LOOPBACK_NAMES = ("localhost",)


class ChaosRefused(ValueError):
    """The experiment would touch something it may not; nothing has been run."""


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_url(url: str, what: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL on this machine; ChaosRefused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ChaosRefused(f"{what}: {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChaosRefused(f"{what}: {url!r} is not an http:// or https:// URL")
    if not is_loopback_host(parts.hostname):
        raise ChaosRefused(f"{what}: {url!r} is not on loopback; vigil chaos only sends traffic to this "
                           f"machine (127.0.0.1, ::1, localhost)")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class ServiceTarget:
    """A configured service as an experiment sees it."""

    name: str
    index: int  # in services[]
    allowed: bool
    base_url: str | None  # scheme://host:port of its first http probe or scrape, or its replicas' port
    ports: frozenset[int] = frozenset()  # loopback ports it answers on
    replica_command: tuple[str, ...] | None = None  # its process actuator's argv, {port} filled in
    replica_port: int | None = None


def _origin(url: str) -> tuple[str, int | None, bool]:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    return f"{parts.scheme}://{parts.netloc}", port, is_loopback_host(parts.hostname or "")


@dataclass
class Scope:
    """The targets of one run: the configuration (if any) and where it came from."""

    config: VigilConfig | None = None
    config_file: str | None = None
    services: dict[str, ServiceTarget] = field(default_factory=dict)
    api_url: str | None = None  # vigil's API, when the experiment's configuration says where (vigil_url)
    api_key: str | None = None  # and with which key (vigil_api_key)

    def __post_init__(self) -> None:
        for i, svc in enumerate(self.config.services if self.config else []):
            urls = [p.url for p in svc.probes if isinstance(p, HttpProbe)]
            urls += [m.url for m in svc.metrics if isinstance(m, ScrapeSource)]
            origins = [_origin(u) for u in urls]
            ports = {port for _, port, local in origins if local and port is not None}
            base = origins[0][0] if origins else None
            command = replica_port = None
            actuator = svc.scaling.actuator if svc.scaling else None
            if actuator is not None and actuator.kind == "process":
                replica_port = actuator.port
                command = tuple(a.replace("{port}", str(actuator.port or "")) for a in actuator.command)
                if actuator.port is not None:
                    ports.add(actuator.port)
                    base = base or f"http://127.0.0.1:{actuator.port}"
            self.services[svc.name] = ServiceTarget(svc.name, i, svc.chaos == "allowed", base, frozenset(ports),
                                                    command, replica_port)

    @property
    def file(self) -> str:
        return self.config_file or "vigil.yaml"

    def service(self, name: str, acting: bool, what: str) -> ServiceTarget:
        """The service `name`; refused if unknown, or (for an action) if it does not allow chaos."""
        if self.config is None:
            raise ChaosRefused(f"{what}: names service {name!r}, but no vigil configuration was given; pass "
                               f"-c vigil.yaml (services are found there), or give the service's url instead")
        target = self.services.get(name)
        if target is None:
            raise ChaosRefused(f"{what}: no service named {name!r} in {self.file}; "
                               f"configured: {', '.join(self.services) or 'none'}")
        if acting:
            self.require_allowed(target, what)
        return target

    def require_allowed(self, target: ServiceTarget, what: str) -> None:
        if not target.allowed:
            raise ChaosRefused(
                f"{what}: service {target.name!r} does not allow chaos experiments; to allow them, set "
                f"`chaos: allowed` on it in {self.file} (services[{target.index}].chaos)")

    def service_on_port(self, port: int) -> ServiceTarget | None:
        for target in self.services.values():
            if port in target.ports:
                return target
        return None

    def url(self, url: str, acting: bool, what: str) -> str:
        """A URL an activity sends to: loopback only; an action on a configured service's port needs
        that service to allow chaos."""
        _, port = loopback_url(url, what)
        if acting:
            target = self.service_on_port(port)
            if target is not None:
                self.require_allowed(target, what)
        return url

    def base_url(self, target: ServiceTarget, what: str) -> str:
        if target.base_url is None:
            raise ChaosRefused(f"{what}: service {target.name!r} has no http probe, scrape or process "
                               f"port in {self.file} to reach it by; give a url instead")
        loopback_url(target.base_url, f"{what} (service {target.name!r})")
        return target.base_url

    def vigil_api(self, what: str) -> tuple[str, str]:
        """vigil's API address and key: from the experiment's configuration, or the vigil.yaml's server block."""
        url, key = self.api_url, self.api_key
        if url is None and self.config is not None:
            host = self.config.server.host
            host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
            url = f"http://{'[' + host + ']' if ':' in host else host}:{self.config.server.port}"
        if key is None and self.config is not None and self.config.server.api_keys:
            key = self.config.server.api_keys[0].key.get_secret_value()
        if url is None or not key:
            raise ChaosRefused(f"{what}: reads vigil's API, but its address or key is unknown; pass -c vigil.yaml "
                               f"(server.host, server.port, server.api_keys) or set vigil_url and "
                               f"vigil_api_key in the experiment's configuration")
        loopback_url(url, f"{what} (vigil's API)")
        return url.rstrip("/"), key
