// grpc-js's status codes, for dynamic import (see cli/yaml.ts for why not `import('@grpc/grpc-js')`).
export { status } from '@grpc/grpc-js';
