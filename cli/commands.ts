// The explicit command map oclif loads (package.json oclif.commands: strategy "explicit").
// Command modules load at start-up, so they keep grpc-js and libsodium out of their imports.
import MasterKeyList from './commands/admin/master-key/list.js';
import MasterKeyRetire from './commands/admin/master-key/retire.js';
import MasterKeyRewrap from './commands/admin/master-key/rewrap.js';
import MasterKeyRotate from './commands/admin/master-key/rotate.js';
import AuditList from './commands/audit/list.js';
import AuditVerify from './commands/audit/verify.js';
import AuthLogin from './commands/auth/login.js';
import AuthLogout from './commands/auth/logout.js';
import AuthStatus from './commands/auth/status.js';
import Complete from './commands/complete.js';
import Completion from './commands/completion.js';
import HelpCommand from './commands/help.js';
import ConfigSet from './commands/config/set.js';
import ConfigShow from './commands/config/show.js';
import ConfigUse from './commands/config/use.js';
import JobCreate from './commands/job/create.js';
import JobList from './commands/job/list.js';
import JobLogs from './commands/job/logs.js';
import JobRestart from './commands/job/restart.js';
import JobShow from './commands/job/show.js';
import JobTerminate from './commands/job/terminate.js';
import OrgKeys from './commands/org/keys.js';
import OrgPublicKey from './commands/org/public-key.js';
import OrgRetireKey from './commands/org/retire-key.js';
import OrgRotateKey from './commands/org/rotate-key.js';
import SecretCreate from './commands/secret/create.js';
import SecretDelete from './commands/secret/delete.js';
import SecretImport from './commands/secret/import.js';
import SecretList from './commands/secret/list.js';
import SecretShow from './commands/secret/show.js';
import SecretUpdate from './commands/secret/update.js';
import SecretVerify from './commands/secret/verify.js';
import WorkspaceCreate from './commands/workspace/create.js';
import WorkspaceDelete from './commands/workspace/delete.js';
import WorkspaceExec from './commands/workspace/exec.js';
import WorkspaceList from './commands/workspace/list.js';
import WorkspaceShell from './commands/workspace/shell.js';
import WorkspaceShow from './commands/workspace/show.js';
import WorkspaceStart from './commands/workspace/start.js';
import WorkspaceStop from './commands/workspace/stop.js';

export const COMMANDS = {
  'auth:login': AuthLogin,
  'auth:status': AuthStatus,
  'auth:logout': AuthLogout,
  'config:show': ConfigShow,
  'config:set': ConfigSet,
  'config:use': ConfigUse,
  'secret:create': SecretCreate,
  'secret:update': SecretUpdate,
  'secret:list': SecretList,
  'secret:show': SecretShow,
  'secret:delete': SecretDelete,
  'secret:import': SecretImport,
  'secret:verify': SecretVerify,
  'job:create': JobCreate,
  'job:list': JobList,
  'job:show': JobShow,
  'job:logs': JobLogs,
  'job:restart': JobRestart,
  'job:terminate': JobTerminate,
  'workspace:create': WorkspaceCreate,
  'workspace:list': WorkspaceList,
  'workspace:show': WorkspaceShow,
  'workspace:exec': WorkspaceExec,
  'workspace:shell': WorkspaceShell,
  'workspace:stop': WorkspaceStop,
  'workspace:start': WorkspaceStart,
  'workspace:delete': WorkspaceDelete,
  'org:public-key': OrgPublicKey,
  'org:rotate-key': OrgRotateKey,
  'org:keys': OrgKeys,
  'org:retire-key': OrgRetireKey,
  'audit:list': AuditList,
  'audit:verify': AuditVerify,
  'admin:master-key:list': MasterKeyList,
  'admin:master-key:rotate': MasterKeyRotate,
  'admin:master-key:rewrap': MasterKeyRewrap,
  'admin:master-key:retire': MasterKeyRetire,
  help: HelpCommand,
  completion: Completion,
  __complete: Complete,
};
