"""One error hierarchy for the whole emulator.

Errors are raised once, typed, on the shared inference path; each door (binding, Cloudflare REST,
Hugging Face API) turns them into its own wire format using the attributes below.
"""

from __future__ import annotations


class EmuError(Exception):
    """Base class: knows its Cloudflare error code and the HTTP statuses of both APIs."""

    code: int = 3043  # Cloudflare's "internal server error"
    status: int = 500  # HTTP status on Cloudflare's REST API
    hf_status: int = 500  # HTTP status on the Hugging Face Inference API
    prefix: str = "AiError: "

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.metered = False  # set once the service has written this failure's ledger row

    @property
    def cf_message(self) -> str:
        """The message as Cloudflare's envelope carries it."""
        return f"{self.prefix}{self.message}"

    @property
    def outcome(self) -> str:
        """Short label for the ledger."""
        return f"error:{self.code}"


class BadInput(EmuError):
    """The request's inputs or parameters do not fit the model's schema."""

    code, status, hf_status = 5006, 400, 400
    prefix = "AiError: Bad input: "


class SchemaMismatch(BadInput):
    """The inputs do not validate against the model's input schema (unknown keys, a required key missing).

    Cloudflare's schema validator words these as "Error: Additional or unevaluated properties '/a, /b' at '/'
    not allowed" and "Error: required properties at '/' are 'image'"; the binding shows "5006: Error: ...".
    """

    prefix = "Error: "


class ImageError(BadInput):
    """The image bytes cannot be decoded safely (unknown format, truncated, empty, too large)."""


class AudioError(BadInput):
    """The audio bytes cannot be decoded (not audio, a header over garbage, no samples, longer than the limit)."""


class NoSuchModel(EmuError):
    code, status, hf_status = 5007, 400, 404
    prefix = ""


class NotOfferedLocally(NoSuchModel):
    """A real Workers AI model that this emulator does not run (its message says so: never "No such model")."""


class MissingBody(EmuError):
    code, status, hf_status = 3003, 400, 400
    prefix = ""


class RequestTooLarge(EmuError):
    code, status, hf_status = 3006, 413, 413
    prefix = ""


# Cloudflare's own texts for the failures a Worker meets on Workers AI (its error table and API answers).
TIMEOUT_TEXT = "Request timeout"
ABORTED_TEXT = "Request was aborted"
CAPACITY_TEXT = "Capacity temporarily exceeded, please try again."
DAILY_ALLOCATION_TEXT = (
    "You have used up your daily free allocation of 10,000 neurons. Please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage."
)


class InferenceTimeout(EmuError):
    code, status, hf_status = 3007, 408, 504
    prefix = ""


class RequestAborted(EmuError):
    """The request was cancelled before its inference finished (the caller gave up)."""

    code, status, hf_status = 3008, 408, 408
    prefix = ""

    @classmethod
    def outcome_label(cls) -> str:
        return f"error:{cls.code}"


class OutOfCapacity(EmuError):
    code, status, hf_status = 3040, 429, 429
    prefix = ""


class BudgetExceeded(EmuError):
    """3036: the day's allowance is used up (Cloudflare's daily free allocation; here also the budget)."""

    code, status, hf_status = 3036, 429, 429
    prefix = ""


class NoRoute(EmuError):
    code, status, hf_status = 7000, 400, 404
    prefix = ""


class AuthenticationError(EmuError):
    code, status, hf_status = 10000, 401, 401
    prefix = ""


class ModelLoading(EmuError):
    """The model's weights are being fetched or its session built; retry after `estimated_time` s."""

    code, status, hf_status = 3040, 503, 503
    prefix = ""

    def __init__(self, message: str, estimated_time: float = 20.0) -> None:
        super().__init__(message)
        self.estimated_time = estimated_time


class ModelUnavailable(EmuError):
    """The model's weights are not on disk and cannot be fetched; the message says how to get them."""

    code, status, hf_status = 5007, 503, 503
    prefix = ""


class ModelError(EmuError):
    """A model folder is broken (bad config, ONNX graph without the expected inputs/outputs)."""

    code, status, hf_status = 3043, 500, 500
    prefix = "AiError: "


class ConfigError(Exception):
    """A configuration file is wrong; the message names file, key and line."""
