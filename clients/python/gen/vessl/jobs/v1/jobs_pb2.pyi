from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Attempt(_message.Message):
    __slots__ = ["end_time", "exit_code", "message", "number", "secrets", "start_time", "state"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    exit_code: int
    message: str
    number: int
    secrets: _containers.RepeatedCompositeFieldContainer[InjectedSecret]
    start_time: _timestamp_pb2.Timestamp
    state: Job.State
    def __init__(self, number: _Optional[int] = ..., state: _Optional[_Union[Job.State, str]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., exit_code: _Optional[int] = ..., message: _Optional[str] = ..., secrets: _Optional[_Iterable[_Union[InjectedSecret, _Mapping]]] = ...) -> None: ...

class CreateJobRequest(_message.Message):
    __slots__ = ["job", "org"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    job: Job
    org: str
    def __init__(self, org: _Optional[str] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class CreateJobResponse(_message.Message):
    __slots__ = ["job", "warnings"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    job: Job
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ["name", "value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ["id", "org"]
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    id: str
    org: str
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class InjectedSecret(_message.Message):
    __slots__ = ["current_version", "env_name", "file_path", "secret_name", "secret_uid", "stale", "version"]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    current_version: int
    env_name: str
    file_path: str
    secret_name: str
    secret_uid: str
    stale: bool
    version: int
    def __init__(self, secret_name: _Optional[str] = ..., secret_uid: _Optional[str] = ..., env_name: _Optional[str] = ..., version: _Optional[int] = ..., current_version: _Optional[int] = ..., stale: bool = ..., file_path: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ["attempts", "backend", "command", "create_by", "create_time", "env", "id", "image", "name", "org", "secrets", "state", "update_time"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CREATE_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    STATE_CANCELLED: Job.State
    STATE_FAILED: Job.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_PENDING: Job.State
    STATE_RUNNING: Job.State
    STATE_SUCCEEDED: Job.State
    STATE_UNSPECIFIED: Job.State
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    backend: str
    command: str
    create_by: str
    create_time: _timestamp_pb2.Timestamp
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    id: str
    image: str
    name: str
    org: str
    secrets: _containers.RepeatedCompositeFieldContainer[SecretReference]
    state: Job.State
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., command: _Optional[str] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., secrets: _Optional[_Iterable[_Union[SecretReference, _Mapping]]] = ..., state: _Optional[_Union[Job.State, str]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., backend: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_by: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ["org", "page_size", "page_token", "secret_name", "state"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    org: str
    page_size: int
    page_token: str
    secret_name: str
    state: Job.State
    def __init__(self, org: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[Job.State, str]] = ..., secret_name: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ["jobs", "next_page_token"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RestartJobRequest(_message.Message):
    __slots__ = ["id", "org"]
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    id: str
    org: str
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class RestartJobResponse(_message.Message):
    __slots__ = ["job", "warnings"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    job: Job
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class SecretReference(_message.Message):
    __slots__ = ["env_name", "file_path", "secret_name"]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    env_name: str
    file_path: str
    secret_name: str
    def __init__(self, secret_name: _Optional[str] = ..., env_name: _Optional[str] = ..., file_path: _Optional[str] = ...) -> None: ...

class StreamJobLogsRequest(_message.Message):
    __slots__ = ["attempt", "follow", "id", "org", "tail_lines"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    follow: bool
    id: str
    org: str
    tail_lines: int
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ..., follow: bool = ..., tail_lines: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class StreamJobLogsResponse(_message.Message):
    __slots__ = ["data"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class TerminateJobRequest(_message.Message):
    __slots__ = ["id", "org"]
    ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    id: str
    org: str
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...
