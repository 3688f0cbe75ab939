// Writes the controller's progress to a PolicyRollout object (status subresource), so Flux's
// `wait: true` and Argo CD's health check see it. Creates the object when it does not exist.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Controller } from '../reconcile/controller.js';
import { rolloutStatus, type Condition, type ControllerView } from './rollout-status.js';

const group = 'weir.dev';
const version = 'v1alpha1';
const plural = 'policyrollouts';

interface PolicyRolloutObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; resourceVersion?: string };
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[] } & Record<string, unknown>;
}

export class PolicyRolloutWriter {
  private readonly api: CustomObjectsApi;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly onChange = () => this.schedule();
  lastError: string | undefined;

  constructor(
    kc: KubeConfig,
    private readonly c: Controller,
    readonly namespace: string,
    readonly name: string,
    private readonly debounceMs = 200,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  start(): void {
    this.c.on('change', this.onChange);
    this.schedule();
  }

  stop(): Promise<void> {
    this.c.off('change', this.onChange);
    if (this.timer) clearTimeout(this.timer);
    return this.writing;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing
        .then(() => this.write())
        .catch((err: unknown) => {
          this.lastError = (err as Error).message;
        });
    }, this.debounceMs);
  }

  /** GET, then PUT the status with the object's resourceVersion (optimistic concurrency). */
  async write(): Promise<void> {
    const base = { group, version, namespace: this.namespace, plural, name: this.name };
    let obj: PolicyRolloutObject;
    try {
      obj = (await this.api.getNamespacedCustomObject(base)) as PolicyRolloutObject;
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      obj = (await this.api.createNamespacedCustomObject({
        group,
        version,
        namespace: this.namespace,
        plural,
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'PolicyRollout',
          metadata: { name: this.name, namespace: this.namespace },
          spec: {},
        },
      })) as PolicyRolloutObject;
    }
    const status = rolloutStatus(this.c.status() as ControllerView, obj.metadata.generation ?? 1, obj.status?.conditions ?? []);
    await this.api.replaceNamespacedCustomObjectStatus({ ...base, body: { ...obj, status } });
    this.lastError = undefined;
  }
}
