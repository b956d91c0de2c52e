from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vessl.jobs.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateWorkspaceRequest(_message.Message):
    __slots__ = ["org", "workspace"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    org: str
    workspace: Workspace
    def __init__(self, org: _Optional[str] = ..., workspace: _Optional[_Union[Workspace, _Mapping]] = ...) -> None: ...

class CreateWorkspaceResponse(_message.Message):
    __slots__ = ["warnings", "workspace"]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    workspace: Workspace
    def __init__(self, workspace: _Optional[_Union[Workspace, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteWorkspaceRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteWorkspaceResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ExecExit(_message.Message):
    __slots__ = ["code", "signal"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    code: int
    signal: str
    def __init__(self, code: _Optional[int] = ..., signal: _Optional[str] = ...) -> None: ...

class ExecStart(_message.Message):
    __slots__ = ["command", "name", "org", "size", "tty"]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TTY_FIELD_NUMBER: _ClassVar[int]
    command: _containers.RepeatedScalarFieldContainer[str]
    name: str
    org: str
    size: TerminalSize
    tty: bool
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., tty: bool = ..., size: _Optional[_Union[TerminalSize, _Mapping]] = ...) -> None: ...

class ExecWorkspaceRequest(_message.Message):
    __slots__ = ["close_stdin", "resize", "start", "stdin"]
    CLOSE_STDIN_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    close_stdin: bool
    resize: TerminalSize
    start: ExecStart
    stdin: bytes
    def __init__(self, start: _Optional[_Union[ExecStart, _Mapping]] = ..., stdin: _Optional[bytes] = ..., resize: _Optional[_Union[TerminalSize, _Mapping]] = ..., close_stdin: bool = ...) -> None: ...

class ExecWorkspaceResponse(_message.Message):
    __slots__ = ["exit", "stderr", "stdout"]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    exit: ExecExit
    stderr: bytes
    stdout: bytes
    def __init__(self, stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit: _Optional[_Union[ExecExit, _Mapping]] = ...) -> None: ...

class GetWorkspaceRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListWorkspacesRequest(_message.Message):
    __slots__ = ["org", "page_size", "page_token", "secret_name"]
    ORG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    org: str
    page_size: int
    page_token: str
    secret_name: str
    def __init__(self, org: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., secret_name: _Optional[str] = ...) -> None: ...

class ListWorkspacesResponse(_message.Message):
    __slots__ = ["next_page_token", "workspaces"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    workspaces: _containers.RepeatedCompositeFieldContainer[Workspace]
    def __init__(self, workspaces: _Optional[_Iterable[_Union[Workspace, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StartWorkspaceRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class StartWorkspaceResponse(_message.Message):
    __slots__ = ["warnings", "workspace"]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    workspace: Workspace
    def __init__(self, workspace: _Optional[_Union[Workspace, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class StopWorkspaceRequest(_message.Message):
    __slots__ = ["name", "org"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    def __init__(self, org: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TerminalSize(_message.Message):
    __slots__ = ["cols", "rows"]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    cols: int
    rows: int
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class Workspace(_message.Message):
    __slots__ = ["backend", "command", "create_by", "create_time", "end_time", "env", "id", "image", "injected", "message", "name", "org", "run", "secrets", "shell_command", "start_time", "state", "update_time"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CREATE_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INJECTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    SHELL_COMMAND_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FAILED: Workspace.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_RUNNING: Workspace.State
    STATE_STARTING: Workspace.State
    STATE_STOPPED: Workspace.State
    STATE_UNSPECIFIED: Workspace.State
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    backend: str
    command: str
    create_by: str
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    env: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.EnvVar]
    id: str
    image: str
    injected: _containers.RepeatedCompositeFieldContainer[WorkspaceSecret]
    message: str
    name: str
    org: str
    run: int
    secrets: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.SecretReference]
    shell_command: str
    start_time: _timestamp_pb2.Timestamp
    state: Workspace.State
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, org: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., command: _Optional[str] = ..., env: _Optional[_Iterable[_Union[_jobs_pb2.EnvVar, _Mapping]]] = ..., secrets: _Optional[_Iterable[_Union[_jobs_pb2.SecretReference, _Mapping]]] = ..., state: _Optional[_Union[Workspace.State, str]] = ..., backend: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_by: _Optional[str] = ..., run: _Optional[int] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., injected: _Optional[_Iterable[_Union[WorkspaceSecret, _Mapping]]] = ..., shell_command: _Optional[str] = ...) -> None: ...

class WorkspaceSecret(_message.Message):
    __slots__ = ["current_version", "env_name", "file_path", "refresh_time", "removed", "secret_name", "secret_uid", "stale", "version"]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENV_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TIME_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_UID_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    current_version: int
    env_name: str
    file_path: str
    refresh_time: _timestamp_pb2.Timestamp
    removed: bool
    secret_name: str
    secret_uid: str
    stale: bool
    version: int
    def __init__(self, secret_name: _Optional[str] = ..., secret_uid: _Optional[str] = ..., env_name: _Optional[str] = ..., file_path: _Optional[str] = ..., version: _Optional[int] = ..., current_version: _Optional[int] = ..., stale: bool = ..., refresh_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., removed: bool = ...) -> None: ...
