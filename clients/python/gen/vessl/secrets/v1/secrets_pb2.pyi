from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditEvent(_message.Message):
    __slots__ = ["action", "actor", "details", "hash", "keyed", "org", "prev_hash", "request_id", "secret_name", "secret_uid", "secret_version", "seq", "time"]
    class DetailsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    KEYED_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    SECRET_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    details: _containers.ScalarMap[str, str]
    hash: str
    keyed: bool
    org: str
    prev_hash: str
    request_id: str
    secret_name: str
    secret_uid: str
    secret_version: int
    seq: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, org: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., secret_name: _Optional[str] = ..., secret_uid: _Optional[str] = ..., secret_version: _Optional[int] = ..., request_id: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., hash: _Optional[str] = ..., prev_hash: _Optional[str] = ..., keyed: bool = ...) -> None: ...

class BatchCreateSecretsRequest(_message.Message):
    __slots__ = ["org", "requests"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    org: str
    requests: _containers.RepeatedCompositeFieldContainer[CreateSecretRequest]
    def __init__(self, org: _Optional[str] = ..., requests: _Optional[_Iterable[_Union[CreateSecretRequest, _Mapping]]] = ...) -> None: ...

class BatchCreateSecretsResponse(_message.Message):
    __slots__ = ["secrets"]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[Secret]
    def __init__(self, secrets: _Optional[_Iterable[_Union[Secret, _Mapping]]] = ...) -> None: ...

class CountDataKeysRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class CountDataKeysResponse(_message.Message):
    __slots__ = ["counts"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[DataKeyCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[DataKeyCount, _Mapping]]] = ...) -> None: ...

class CreateSecretRequest(_message.Message):
    __slots__ = ["org", "secret", "value"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    org: str
    secret: Secret
    value: SealedValue
    def __init__(self, org: _Optional[str] = ..., secret: _Optional[_Union[Secret, _Mapping]] = ..., value: _Optional[_Union[SealedValue, _Mapping]] = ...) -> None: ...

class DataKeyCount(_message.Message):
    __slots__ = ["data_keys", "kek_version"]
    DATA_KEYS_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    data_keys: int
    kek_version: int
    def __init__(self, kek_version: _Optional[int] = ..., data_keys: _Optional[int] = ...) -> None: ...

class DeleteSecretRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetSecretRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Injection(_message.Message):
    __slots__ = ["env_name", "file_path", "secret_name"]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    env_name: str
    file_path: str
    secret_name: str
    def __init__(self, secret_name: _Optional[str] = ..., env_name: _Optional[str] = ..., file_path: _Optional[str] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ["action", "actor", "after_seq", "end_time", "newest_first", "org", "page_size", "page_token", "secret_name", "start_time"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    after_seq: int
    end_time: _timestamp_pb2.Timestamp
    newest_first: bool
    org: str
    page_size: int
    page_token: str
    secret_name: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, org: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., action: _Optional[str] = ..., secret_name: _Optional[str] = ..., actor: _Optional[str] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., newest_first: bool = ..., after_seq: _Optional[int] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ["events", "next_page_token"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSecretsRequest(_message.Message):
    __slots__ = ["org", "page_size", "page_token", "show_deleted"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHOW_DELETED_FIELD_NUMBER: _ClassVar[int]
    org: str
    page_size: int
    page_token: str
    show_deleted: bool
    def __init__(self, org: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., show_deleted: bool = ...) -> None: ...

class ListSecretsResponse(_message.Message):
    __slots__ = ["next_page_token", "secrets"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    secrets: _containers.RepeatedCompositeFieldContainer[Secret]
    def __init__(self, secrets: _Optional[_Iterable[_Union[Secret, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LookupSecretVersionsRequest(_message.Message):
    __slots__ = ["org", "uids"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    UIDS_FIELD_NUMBER: _ClassVar[int]
    org: str
    uids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, org: _Optional[str] = ..., uids: _Optional[_Iterable[str]] = ...) -> None: ...

class LookupSecretVersionsResponse(_message.Message):
    __slots__ = ["versions"]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[SecretVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[SecretVersion, _Mapping]]] = ...) -> None: ...

class RecordAuditEventRequest(_message.Message):
    __slots__ = ["action", "actor", "details", "org", "request_id"]
    class DetailsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    details: _containers.ScalarMap[str, str]
    org: str
    request_id: str
    def __init__(self, org: _Optional[str] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., request_id: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ResolveSecretsRequest(_message.Message):
    __slots__ = ["attempt", "job_id", "names", "on_behalf_of", "org", "plain_env_names", "references", "refresh"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PLAIN_ENV_NAMES_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    job_id: str
    names: _containers.RepeatedScalarFieldContainer[str]
    on_behalf_of: str
    org: str
    plain_env_names: _containers.RepeatedScalarFieldContainer[str]
    references: _containers.RepeatedCompositeFieldContainer[SecretReference]
    refresh: bool
    def __init__(self, org: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ..., job_id: _Optional[str] = ..., attempt: _Optional[int] = ..., on_behalf_of: _Optional[str] = ..., references: _Optional[_Iterable[_Union[SecretReference, _Mapping]]] = ..., plain_env_names: _Optional[_Iterable[str]] = ..., refresh: bool = ...) -> None: ...

class ResolveSecretsResponse(_message.Message):
    __slots__ = ["injections", "secrets", "warnings"]
    INJECTIONS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    injections: _containers.RepeatedCompositeFieldContainer[Injection]
    secrets: _containers.RepeatedCompositeFieldContainer[ResolvedSecret]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, secrets: _Optional[_Iterable[_Union[ResolvedSecret, _Mapping]]] = ..., injections: _Optional[_Iterable[_Union[Injection, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolvedSecret(_message.Message):
    __slots__ = ["ciphertext", "kek_version", "key", "name", "uid", "version", "wrapped_dek"]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DEK_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    kek_version: int
    key: str
    name: str
    uid: str
    version: int
    wrapped_dek: bytes
    def __init__(self, name: _Optional[str] = ..., uid: _Optional[str] = ..., key: _Optional[str] = ..., version: _Optional[int] = ..., ciphertext: _Optional[bytes] = ..., wrapped_dek: _Optional[bytes] = ..., kek_version: _Optional[int] = ...) -> None: ...

class RewrapSecretsRequest(_message.Message):
    __slots__ = ["batch_size"]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    def __init__(self, batch_size: _Optional[int] = ...) -> None: ...

class RewrapSecretsResponse(_message.Message):
    __slots__ = ["data_keys_rewrapped", "data_keys_total", "done", "kek_version", "org_keys_rewrapped"]
    DATA_KEYS_REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    DATA_KEYS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    ORG_KEYS_REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    data_keys_rewrapped: int
    data_keys_total: int
    done: bool
    kek_version: int
    org_keys_rewrapped: int
    def __init__(self, kek_version: _Optional[int] = ..., org_keys_rewrapped: _Optional[int] = ..., data_keys_rewrapped: _Optional[int] = ..., data_keys_total: _Optional[int] = ..., done: bool = ...) -> None: ...

class SealedValue(_message.Message):
    __slots__ = ["key_id", "sealed_box"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SEALED_BOX_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sealed_box: bytes
    def __init__(self, sealed_box: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class Secret(_message.Message):
    __slots__ = ["create_by", "create_time", "delete_by", "delete_time", "description", "env_var_fit", "key", "name", "org", "state", "uid", "update_by", "update_time", "value_fingerprint", "value_update_time", "version"]
    class EnvVarFit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CREATE_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETE_BY_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ENV_VAR_FIT_FIELD_NUMBER: _ClassVar[int]
    ENV_VAR_FIT_NOT_UTF8: Secret.EnvVarFit
    ENV_VAR_FIT_NUL_BYTE: Secret.EnvVarFit
    ENV_VAR_FIT_OK: Secret.EnvVarFit
    ENV_VAR_FIT_UNSPECIFIED: Secret.EnvVarFit
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    STATE_ACTIVE: Secret.State
    STATE_DELETED: Secret.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNSPECIFIED: Secret.State
    UID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    VALUE_UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    create_by: str
    create_time: _timestamp_pb2.Timestamp
    delete_by: str
    delete_time: _timestamp_pb2.Timestamp
    description: str
    env_var_fit: Secret.EnvVarFit
    key: str
    name: str
    org: str
    state: Secret.State
    uid: str
    update_by: str
    update_time: _timestamp_pb2.Timestamp
    value_fingerprint: str
    value_update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ..., uid: _Optional[str] = ..., key: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[int] = ..., state: _Optional[_Union[Secret.State, str]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., value_update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delete_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_by: _Optional[str] = ..., update_by: _Optional[str] = ..., delete_by: _Optional[str] = ..., value_fingerprint: _Optional[str] = ..., env_var_fit: _Optional[_Union[Secret.EnvVarFit, str]] = ...) -> None: ...

class SecretReference(_message.Message):
    __slots__ = ["env_name", "file_path", "secret_name"]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    env_name: str
    file_path: str
    secret_name: str
    def __init__(self, secret_name: _Optional[str] = ..., env_name: _Optional[str] = ..., file_path: _Optional[str] = ...) -> None: ...

class SecretVersion(_message.Message):
    __slots__ = ["deleted", "name", "uid", "version"]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    name: str
    uid: str
    version: int
    def __init__(self, uid: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., deleted: bool = ...) -> None: ...

class UpdateSecretRequest(_message.Message):
    __slots__ = ["org", "secret", "update_mask", "value"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    org: str
    secret: Secret
    update_mask: _field_mask_pb2.FieldMask
    value: SealedValue
    def __init__(self, org: _Optional[str] = ..., secret: _Optional[_Union[Secret, _Mapping]] = ..., value: _Optional[_Union[SealedValue, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class VerifyAuditLogRequest(_message.Message):
    __slots__ = ["org"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: str
    def __init__(self, org: _Optional[str] = ...) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ["checkpoint_seq", "checkpoint_time", "events", "finding", "first_bad_seq", "intact", "missing_after_seq", "problem"]
    class Finding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CHECKPOINT_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FINDING_ALTERED: VerifyAuditLogResponse.Finding
    FINDING_FIELD_NUMBER: _ClassVar[int]
    FINDING_GAP: VerifyAuditLogResponse.Finding
    FINDING_INTACT: VerifyAuditLogResponse.Finding
    FINDING_MISLINKED: VerifyAuditLogResponse.Finding
    FINDING_TAIL_MISSING: VerifyAuditLogResponse.Finding
    FINDING_UNSPECIFIED: VerifyAuditLogResponse.Finding
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    INTACT_FIELD_NUMBER: _ClassVar[int]
    MISSING_AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    checkpoint_seq: int
    checkpoint_time: _timestamp_pb2.Timestamp
    events: int
    finding: VerifyAuditLogResponse.Finding
    first_bad_seq: int
    intact: bool
    missing_after_seq: int
    problem: str
    def __init__(self, intact: bool = ..., events: _Optional[int] = ..., first_bad_seq: _Optional[int] = ..., problem: _Optional[str] = ..., finding: _Optional[_Union[VerifyAuditLogResponse.Finding, str]] = ..., missing_after_seq: _Optional[int] = ..., checkpoint_seq: _Optional[int] = ..., checkpoint_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifySecretValueRequest(_message.Message):
    __slots__ = ["name", "org", "value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    value: SealedValue
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[_Union[SealedValue, _Mapping]] = ...) -> None: ...

class VerifySecretValueResponse(_message.Message):
    __slots__ = ["matches", "version"]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    matches: bool
    version: int
    def __init__(self, matches: bool = ..., version: _Optional[int] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ["can_manage_secrets", "can_read_secrets", "expire_time", "org", "role", "subject"]
    CAN_MANAGE_SECRETS_FIELD_NUMBER: _ClassVar[int]
    CAN_READ_SECRETS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    can_manage_secrets: bool
    can_read_secrets: bool
    expire_time: _timestamp_pb2.Timestamp
    org: str
    role: str
    subject: str
    def __init__(self, subject: _Optional[str] = ..., org: _Optional[str] = ..., role: _Optional[str] = ..., can_read_secrets: bool = ..., can_manage_secrets: bool = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
