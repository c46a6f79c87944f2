"""Uploaded data sets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store.models import DATASET_FORMATS, DATASET_KINDS, DATASET_STATUSES, Dataset
from exoguard.store.repositories._common import _check, _page


class DatasetRepository:
    """Uploaded files and their validation reports."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        filename: str,
        kind: str,
        format: str,
        size_bytes: int,
        sha256: str,
        storage_path: str,
        owner_id: int | None = None,
        dataset_id: str | None = None,
        status: str = "uploaded",
        validation_report: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Record a stored file; `dataset_id` defaults to a new UUID4 string."""
        _check("kind", kind, DATASET_KINDS)
        _check("format", format, DATASET_FORMATS)
        _check("status", status, DATASET_STATUSES)
        if size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0; got {size_bytes}")
        dataset = Dataset(
            id=dataset_id or str(uuid.uuid4()),
            owner_id=owner_id,
            filename=filename,
            kind=kind,
            format=format,
            size_bytes=int(size_bytes),
            sha256=sha256,
            storage_path=storage_path,
            status=status,
            validation_report=dict(validation_report) if validation_report is not None else None,
        )
        self.session.add(dataset)
        self.session.flush()
        return dataset

    def get(self, dataset_id: str) -> Dataset | None:
        return self.session.get(Dataset, dataset_id)

    def require(self, dataset_id: str) -> Dataset:
        dataset = self.get(dataset_id)
        if dataset is None:
            raise NotFoundError(f"dataset {dataset_id!r} not found")
        return dataset

    def find_by_sha256(self, sha256: str, *, owner_id: int | None = None) -> Dataset | None:
        """The oldest dataset with this content hash (of this owner when given)."""
        stmt = select(Dataset).where(Dataset.sha256 == sha256)
        if owner_id is not None:
            stmt = stmt.where(Dataset.owner_id == owner_id)
        return self.session.scalars(stmt.order_by(Dataset.created_at).limit(1)).first()

    def list(
        self,
        *,
        owner_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Dataset]:
        """Datasets, newest first."""
        stmt = select(Dataset)
        if owner_id is not None:
            stmt = stmt.where(Dataset.owner_id == owner_id)
        if kind is not None:
            _check("kind", kind, DATASET_KINDS)
            stmt = stmt.where(Dataset.kind == kind)
        if status is not None:
            _check("status", status, DATASET_STATUSES)
            stmt = stmt.where(Dataset.status == status)
        stmt = stmt.order_by(Dataset.created_at.desc(), Dataset.id)
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def set_status(
        self,
        dataset_id: str,
        status: str,
        *,
        validation_report: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Change the status; replaces the validation report when one is given."""
        _check("status", status, DATASET_STATUSES)
        dataset = self.require(dataset_id)
        dataset.status = status
        if validation_report is not None:
            dataset.validation_report = dict(validation_report)
        self.session.flush()
        return dataset

    def delete(self, dataset_id: str) -> None:
        self.session.delete(self.require(dataset_id))
        self.session.flush()
