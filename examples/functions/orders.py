"""Order lookups and a shopping cart: dataclass results, and a class with methods."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from navai_core.exceptions import ToolError


class OrderStatus(enum.Enum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


@dataclass
class OrderLine:
    sku: str
    quantity: int = 1


@dataclass
class Order:
    order_id: str
    status: OrderStatus
    placed_on: dt.date
    lines: list[OrderLine] = field(default_factory=list)


_ORDERS = {
    "A-1001": Order("A-1001", OrderStatus.SHIPPED, dt.date(2025, 3, 14), [OrderLine("mug", 2)]),
    "A-1002": Order("A-1002", OrderStatus.PROCESSING, dt.date(2025, 3, 20), [OrderLine("tea", 1)]),
}

_PRICES = {"mug": 12.5, "tea": 6.0, "kettle": 39.9}


def get_order_status(order_id: str) -> Order:
    """Look up an order by its id, with its status and lines.

    Args:
        order_id: The order id, such as "A-1001".
    """
    order = _ORDERS.get(order_id.strip().upper())
    if order is None:
        msg = f"No order with id {order_id!r}."
        raise ToolError(msg)
    return order


class Cart:
    """A shopping cart, rebuilt from its lines on every call (tools keep no state).

    Args:
        lines: What is in the cart.
    """

    def __init__(self, lines: list[OrderLine] | None = None) -> None:
        self.lines = list(lines or [])

    def total(self, currency: str = "EUR") -> dict[str, object]:
        """Price the cart.

        Args:
            currency: The currency code to show.
        """
        amount = sum(_PRICES.get(line.sku, 0.0) * line.quantity for line in self.lines)
        return {"total": round(amount, 2), "currency": currency, "items": len(self.lines)}

    def add_item(self, sku: str, quantity: int = 1) -> list[OrderLine]:
        """Add a product and return the cart's lines.

        Args:
            sku: The product code ("mug", "tea" or "kettle").
            quantity: How many.
        """
        if sku not in _PRICES:
            msg = f"Unknown product {sku!r}. Known: {', '.join(sorted(_PRICES))}."
            raise ToolError(msg)
        self.lines.append(OrderLine(sku, quantity))
        return self.lines

    @staticmethod
    def catalog() -> dict[str, float]:
        """List the products and their prices."""
        return dict(_PRICES)
