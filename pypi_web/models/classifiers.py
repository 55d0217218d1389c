"""Trove classifiers and the packages that declare them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base

if TYPE_CHECKING:
    from .packaging import Package

package_classifiers = Table(
    "package_classifiers",
    Base.metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    # Browsing goes classifier -> packages, so the second column needs its own index.
    Column(
        "classifier_id",
        ForeignKey("classifiers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Classifier(Base):
    __tablename__ = "classifiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    classifier: Mapped[str] = mapped_column(String(255), unique=True)

    packages: Mapped[list[Package]] = relationship(
        secondary=package_classifiers, back_populates="classifiers"
    )

    @property
    def top_level(self) -> str:
        return self.classifier.split(" :: ", 1)[0]

    @property
    def leaf(self) -> str:
        return self.classifier.rsplit(" :: ", 1)[-1]
