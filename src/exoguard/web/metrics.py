"""Prometheus metrics of the API and the models (one registry per app, exported at /metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class AppMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "exoguard_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=r,
        )
        self.errors = Counter(
            "exoguard_http_errors_total",
            "HTTP responses with status >= 500 or 4xx",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "exoguard_http_request_seconds",
            "API latency",
            ["route"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.inference = Histogram(
            "exoguard_inference_seconds",
            "Model inference time per request",
            ["model_version"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
        )
        self.predictions = Histogram(
            "exoguard_prediction_probability",
            "Distribution of predicted planet probabilities",
            ["model_version"],
            registry=r,
            buckets=tuple(i / 10 for i in range(1, 11)),
        )
        self.active_users = Gauge(
            "exoguard_active_users", "Users seen in the last 15 minutes", registry=r
        )
        self.model_accuracy = Gauge(
            "exoguard_model_accuracy_vetted",
            "Accuracy on vetted labels",
            ["model_version"],
            registry=r,
        )
        self.drift = Gauge(
            "exoguard_feature_drift_psi",
            "Population stability index against the training data",
            ["model_version", "feature"],
            registry=r,
        )
