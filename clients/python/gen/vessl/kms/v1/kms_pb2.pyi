from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditCheckpoint(_message.Message):
    __slots__ = ["keyed_from", "link", "org", "public_key", "seq", "signature", "time"]
    KEYED_FROM_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    keyed_from: int
    link: bytes
    org: str
    public_key: bytes
    seq: int
    signature: bytes
    time: _timestamp_pb2.Timestamp
    def __init__(self, org: _Optional[str] = ..., seq: _Optional[int] = ..., link: _Optional[bytes] = ..., keyed_from: _Optional[int] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[bytes] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class AuditEventDigest(_message.Message):
    __slots__ = ["digest", "seq"]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    seq: int
    def __init__(self, seq: _Optional[int] = ..., digest: _Optional[bytes] = ...) -> None: ...

class AuditLinkInput(_message.Message):
    __slots__ = ["digest", "prev_link", "seq"]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    PREV_LINK_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    prev_link: bytes
    seq: int
    def __init__(self, seq: _Optional[int] = ..., digest: _Optional[bytes] = ..., prev_link: _Optional[bytes] = ...) -> None: ...

class DecryptForInjectionRequest(_message.Message):
    __slots__ = ["org", "values"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    org: str
    values: _containers.RepeatedCompositeFieldContainer[EncryptedValue]
    def __init__(self, org: _Optional[str] = ..., values: _Optional[_Iterable[_Union[EncryptedValue, _Mapping]]] = ...) -> None: ...

class DecryptForInjectionResponse(_message.Message):
    __slots__ = ["values"]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class EncryptSealedValueRequest(_message.Message):
    __slots__ = ["key_id", "org", "sealed_box", "secret_uid", "version"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SEALED_BOX_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    org: str
    sealed_box: bytes
    secret_uid: str
    version: int
    def __init__(self, org: _Optional[str] = ..., secret_uid: _Optional[str] = ..., version: _Optional[int] = ..., sealed_box: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class EncryptSealedValueResponse(_message.Message):
    __slots__ = ["ciphertext", "env_var_fit", "fingerprint", "kek_version", "wrapped_dek"]
    class EnvVarFit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    ENV_VAR_FIT_FIELD_NUMBER: _ClassVar[int]
    ENV_VAR_FIT_NOT_UTF8: EncryptSealedValueResponse.EnvVarFit
    ENV_VAR_FIT_NUL_BYTE: EncryptSealedValueResponse.EnvVarFit
    ENV_VAR_FIT_OK: EncryptSealedValueResponse.EnvVarFit
    ENV_VAR_FIT_UNSPECIFIED: EncryptSealedValueResponse.EnvVarFit
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DEK_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    env_var_fit: EncryptSealedValueResponse.EnvVarFit
    fingerprint: bytes
    kek_version: int
    wrapped_dek: bytes
    def __init__(self, ciphertext: _Optional[bytes] = ..., wrapped_dek: _Optional[bytes] = ..., kek_version: _Optional[int] = ..., fingerprint: _Optional[bytes] = ..., env_var_fit: _Optional[_Union[EncryptSealedValueResponse.EnvVarFit, str]] = ...) -> None: ...

class EncryptSealedValuesRequest(_message.Message):
    __slots__ = ["requests"]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[EncryptSealedValueRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[EncryptSealedValueRequest, _Mapping]]] = ...) -> None: ...

class EncryptSealedValuesResponse(_message.Message):
    __slots__ = ["values"]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[EncryptSealedValueResponse]
    def __init__(self, values: _Optional[_Iterable[_Union[EncryptSealedValueResponse, _Mapping]]] = ...) -> None: ...

class EncryptedValue(_message.Message):
    __slots__ = ["ciphertext", "kek_version", "secret_uid", "version", "wrapped_dek"]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DEK_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    kek_version: int
    secret_uid: str
    version: int
    wrapped_dek: bytes
    def __init__(self, secret_uid: _Optional[str] = ..., version: _Optional[int] = ..., ciphertext: _Optional[bytes] = ..., wrapped_dek: _Optional[bytes] = ..., kek_version: _Optional[int] = ...) -> None: ...

class FingerprintSealedValueRequest(_message.Message):
    __slots__ = ["key_id", "org", "sealed_box"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SEALED_BOX_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    org: str
    sealed_box: bytes
    def __init__(self, org: _Optional[str] = ..., sealed_box: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...

class FingerprintSealedValueResponse(_message.Message):
    __slots__ = ["fingerprint"]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    fingerprint: bytes
    def __init__(self, fingerprint: _Optional[bytes] = ...) -> None: ...

class GetAuditCheckpointRequest(_message.Message):
    __slots__ = ["org"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: str
    def __init__(self, org: _Optional[str] = ...) -> None: ...

class GetOrgPublicKeyRequest(_message.Message):
    __slots__ = ["org"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: str
    def __init__(self, org: _Optional[str] = ...) -> None: ...

class LinkAuditEventsRequest(_message.Message):
    __slots__ = ["events", "org"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditLinkInput]
    org: str
    def __init__(self, org: _Optional[str] = ..., events: _Optional[_Iterable[_Union[AuditLinkInput, _Mapping]]] = ...) -> None: ...

class LinkAuditEventsResponse(_message.Message):
    __slots__ = ["links"]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, links: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ListMasterKeysRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListMasterKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[MasterKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[MasterKey, _Mapping]]] = ...) -> None: ...

class ListOrgKeysRequest(_message.Message):
    __slots__ = ["org"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: str
    def __init__(self, org: _Optional[str] = ...) -> None: ...

class ListOrgKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[OrgKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[OrgKey, _Mapping]]] = ...) -> None: ...

class MasterKey(_message.Message):
    __slots__ = ["create_time", "primary", "state", "version", "wrapped_data_keys", "wrapped_org_keys"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    STATE_DESTROYED: MasterKey.State
    STATE_DISABLED: MasterKey.State
    STATE_ENABLED: MasterKey.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNSPECIFIED: MasterKey.State
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DATA_KEYS_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_ORG_KEYS_FIELD_NUMBER: _ClassVar[int]
    create_time: _timestamp_pb2.Timestamp
    primary: bool
    state: MasterKey.State
    version: int
    wrapped_data_keys: int
    wrapped_org_keys: int
    def __init__(self, version: _Optional[int] = ..., state: _Optional[_Union[MasterKey.State, str]] = ..., primary: bool = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., wrapped_org_keys: _Optional[int] = ..., wrapped_data_keys: _Optional[int] = ...) -> None: ...

class OrgKey(_message.Message):
    __slots__ = ["create_time", "key_id", "org", "public_key", "retire_time", "state"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    RETIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_PREVIOUS: OrgKey.State
    STATE_PRIMARY: OrgKey.State
    STATE_RETIRED: OrgKey.State
    STATE_UNSPECIFIED: OrgKey.State
    create_time: _timestamp_pb2.Timestamp
    key_id: str
    org: str
    public_key: bytes
    retire_time: _timestamp_pb2.Timestamp
    state: OrgKey.State
    def __init__(self, org: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., state: _Optional[_Union[OrgKey.State, str]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., retire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrgPublicKey(_message.Message):
    __slots__ = ["algorithm", "create_time", "key_id", "org", "public_key"]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    create_time: _timestamp_pb2.Timestamp
    key_id: str
    org: str
    public_key: bytes
    def __init__(self, org: _Optional[str] = ..., key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., algorithm: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordAuditCheckpointRequest(_message.Message):
    __slots__ = ["events", "from_link", "from_seq", "keyed_from", "link", "org"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FROM_LINK_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    KEYED_FROM_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEventDigest]
    from_link: bytes
    from_seq: int
    keyed_from: int
    link: bytes
    org: str
    def __init__(self, org: _Optional[str] = ..., from_seq: _Optional[int] = ..., from_link: _Optional[bytes] = ..., keyed_from: _Optional[int] = ..., events: _Optional[_Iterable[_Union[AuditEventDigest, _Mapping]]] = ..., link: _Optional[bytes] = ...) -> None: ...

class RetireMasterKeyRequest(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class RetireOrgKeyRequest(_message.Message):
    __slots__ = ["key_id", "org"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    org: str
    def __init__(self, org: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class RewrapDataKeysRequest(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[WrappedDataKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[WrappedDataKey, _Mapping]]] = ...) -> None: ...

class RewrapDataKeysResponse(_message.Message):
    __slots__ = ["kek_version", "wrapped_deks"]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DEKS_FIELD_NUMBER: _ClassVar[int]
    kek_version: int
    wrapped_deks: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, wrapped_deks: _Optional[_Iterable[bytes]] = ..., kek_version: _Optional[int] = ...) -> None: ...

class RewrapOrgKeysRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RewrapOrgKeysResponse(_message.Message):
    __slots__ = ["kek_version", "rewrapped"]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    kek_version: int
    rewrapped: int
    def __init__(self, rewrapped: _Optional[int] = ..., kek_version: _Optional[int] = ...) -> None: ...

class RotateMasterKeyRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RotateOrgKeyRequest(_message.Message):
    __slots__ = ["org"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: str
    def __init__(self, org: _Optional[str] = ...) -> None: ...

class WrappedDataKey(_message.Message):
    __slots__ = ["org", "secret_uid", "version", "wrapped_dek"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_DEK_FIELD_NUMBER: _ClassVar[int]
    org: str
    secret_uid: str
    version: int
    wrapped_dek: bytes
    def __init__(self, org: _Optional[str] = ..., secret_uid: _Optional[str] = ..., version: _Optional[int] = ..., wrapped_dek: _Optional[bytes] = ...) -> None: ...
