"""The JSON answers of Open311 GeoReport v2 (api/routers/open311.py), field
by field as the specification names and types them
(http://wiki.open311.org/GeoReport_v2; the update feed as the
``servicerequestupdates`` extension publishes it).

A field a request has no value for is left out of the answer, never null:
every optional field here defaults to None only so that its absence
validates. The routes are not in the OpenAPI document (see the router);
these models are what the tests check the answers against, and what a
client may generate its types from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Open311Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Endpoint(Open311Model):
    specification: str = Field(description="the specification's URL")
    url: str = Field(description="the endpoint's base URL")
    changeset: str = Field(description="when the endpoint last changed (W3C date-time)")
    type: Literal["production", "test"]
    formats: list[str] = Field(description="the media types it answers in")


class Discovery(Open311Model):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(Open311Model):
    service_code: str = Field(description="the need category's code")
    service_name: str = Field(description="the category in Chinese")
    description: str
    metadata: bool = Field(description="false: a service definition adds no attributes")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str | None = None
    group: str | None = None


class Services(RootModel[list[Service]]):
    pass


class Attribute(Open311Model):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None = None
    order: int
    description: str


class ServiceDefinition(Open311Model):
    service_code: str
    attributes: list[Attribute]


class ServiceRequest(Open311Model):
    service_request_id: str = Field(description="the need's id")
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str | None = None
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class ServiceRequests(RootModel[list[ServiceRequest]]):
    pass


class RequestCreated(Open311Model):
    """What POST requests answers: the request's id at once (Linli registers synchronously)."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


class RequestsCreated(RootModel[list[RequestCreated]]):
    pass


class TokenRequest(Open311Model):
    token: str
    service_request_id: str | None = None


class TokenRequests(RootModel[list[TokenRequest]]):
    pass


class RequestUpdate(Open311Model):
    update_id: int = Field(description="the event's position in Linli's log")
    service_request_id: str
    status: Literal["open", "closed"]
    updated_datetime: str
    description: str
    media_url: str | None = None


class RequestUpdates(RootModel[list[RequestUpdate]]):
    pass


class Error(Open311Model):
    code: int
    description: str


class Errors(RootModel[list[Error]]):
    pass
