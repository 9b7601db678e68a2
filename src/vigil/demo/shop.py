"""The business side of the demo shop: what catalog, payments and storefront each answer.

storefront calls catalog and payments over HTTP, so a fault in either shows up in storefront's
own errors and latency, as it would in a real shop."""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Who calls whom: the fleet and the generated vigil config both read this.
DEPENDS_ON: dict[str, list[str]] = {"catalog": [], "payments": [], "storefront": ["catalog", "payments"]}
ROLES = tuple(DEPENDS_ON)

PRODUCTS = [{"id": i, "name": f"item-{i:02d}", "price_cents": 250 + 125 * i} for i in range(1, 21)]


class Shop(Protocol):
    """What a role needs from its service: the dependencies' clients and a random source."""

    rng: random.Random

    def dependency_url(self, name: str) -> str: ...

    def client(self) -> aiohttp.ClientSession: ...


class DependencyFailed(Exception):
    def __init__(self, dependency: str, detail: str) -> None:
        self.dependency = dependency
        super().__init__(f"{dependency} failed: {detail}")


async def _call(shop: Shop, dependency: str, method: str, path: str, json: object = None) -> object:
    url = shop.dependency_url(dependency) + path
    try:
        async with shop.client().request(method, url, json=json) as resp:
            if resp.status >= 400:
                raise DependencyFailed(dependency, f"HTTP {resp.status}")
            return await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DependencyFailed(dependency, type(exc).__name__) from None


def _bad_gateway(exc: DependencyFailed) -> web.Response:
    return web.json_response({"error": str(exc), "dependency": exc.dependency}, status=502)


def catalog_routes(shop: Shop) -> list[tuple[str, str, Handler]]:
    async def products(request: web.Request) -> web.Response:
        return web.json_response({"products": PRODUCTS})

    async def product(request: web.Request) -> web.Response:
        try:
            pid = int(request.match_info["id"])
        except ValueError:
            return web.json_response({"error": "product id must be a number"}, status=400)
        for p in PRODUCTS:
            if p["id"] == pid:
                return web.json_response(p)
        return web.json_response({"error": f"no product {pid}"}, status=404)

    return [("GET", "/products", products), ("GET", "/products/{id}", product)]


def payments_routes(shop: Shop) -> list[tuple[str, str, Handler]]:
    charge_ids = itertools.count(1)

    async def charge(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            amount = int(body["amount_cents"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON {\"amount_cents\": N}"}, status=400)
        return web.json_response({"charge_id": next(charge_ids), "amount_cents": amount, "status": "approved"})

    return [("POST", "/charge", charge)]


def storefront_routes(shop: Shop) -> list[tuple[str, str, Handler]]:
    orders = itertools.count(1)

    async def home(request: web.Request) -> web.Response:
        try:
            listing = await _call(shop, "catalog", "GET", "/products")
        except DependencyFailed as exc:
            return _bad_gateway(exc)
        assert isinstance(listing, dict)
        return web.json_response({"shop": "vigil demo", "products": listing.get("products", [])[:5]})

    async def checkout(request: web.Request) -> web.Response:
        pid = shop.rng.randint(1, len(PRODUCTS))
        try:
            product = await _call(shop, "catalog", "GET", f"/products/{pid}")
            assert isinstance(product, dict)
            charged = await _call(shop, "payments", "POST", "/charge",
                                  json={"amount_cents": product["price_cents"]})
        except DependencyFailed as exc:
            return _bad_gateway(exc)
        return web.json_response({"order": next(orders), "product": product, "charge": charged})

    return [("GET", "/", home), ("GET", "/checkout", checkout), ("POST", "/checkout", checkout)]


ROUTES: dict[str, Callable[[Shop], list[tuple[str, str, Handler]]]] = {
    "catalog": catalog_routes,
    "payments": payments_routes,
    "storefront": storefront_routes,
}
