// The explicit command map oclif loads (package.json oclif.commands: strategy "explicit").
// Command modules load at start-up, so they keep grpc-js and libsodium out of their imports.
import AuthLogin from './commands/auth/login.js';
import AuthStatus from './commands/auth/status.js';
import ConfigSet from './commands/config/set.js';
import ConfigShow from './commands/config/show.js';
import JobCreate from './commands/job/create.js';
import JobList from './commands/job/list.js';
import JobLogs from './commands/job/logs.js';
import JobRestart from './commands/job/restart.js';
import JobShow from './commands/job/show.js';
import JobTerminate from './commands/job/terminate.js';
import OrgPublicKey from './commands/org/public-key.js';
import SecretCreate from './commands/secret/create.js';
import SecretDelete from './commands/secret/delete.js';
import SecretList from './commands/secret/list.js';
import SecretShow from './commands/secret/show.js';
import SecretUpdate from './commands/secret/update.js';

export const COMMANDS = {
  'auth:login': AuthLogin,
  'auth:status': AuthStatus,
  'config:show': ConfigShow,
  'config:set': ConfigSet,
  'secret:create': SecretCreate,
  'secret:update': SecretUpdate,
  'secret:list': SecretList,
  'secret:show': SecretShow,
  'secret:delete': SecretDelete,
  'job:create': JobCreate,
  'job:list': JobList,
  'job:show': JobShow,
  'job:logs': JobLogs,
  'job:restart': JobRestart,
  'job:terminate': JobTerminate,
  'org:public-key': OrgPublicKey,
};
