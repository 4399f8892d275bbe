/** Shapes of the REST API v1 and the WebSocket frames (see DESIGN.md and the presenters). */

export type TaskStatus = 'PENDING' | 'ASSIGNED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'
export type NodeStatus = 'ONLINE' | 'UNHEALTHY' | 'OFFLINE'

export const TASK_STATUSES: TaskStatus[] = ['PENDING', 'ASSIGNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']
export const ACTIVE_STATUSES: TaskStatus[] = ['PENDING', 'ASSIGNED', 'RUNNING']

export interface Me {
  authenticated: boolean
  username: string
  is_staff: boolean
  /** cancel: own tasks (with submit) or, with cancel_any, anyone's; view_any: every task's env and output */
  permissions: { submit: boolean; cancel: boolean; drain: boolean; cancel_any?: boolean; view_any?: boolean }
}

export interface Task {
  id: number
  name: string
  command: string
  cpu: number
  mem: number
  priority: number
  status: TaskStatus
  status_reason: string
  status_message: string
  node: number | null
  node_name: string | null
  attempt: number
  max_attempts: number
  timeout: number | null
  exit_code: number | null
  created_at: string | null
  assigned_at: string | null
  started_at: string | null
  finished_at: string | null
  /** when the master last changed it: of two copies, the newer `updated_at` wins */
  updated_at?: string | null
  /** the task this one reruns (same spec) */
  rerun_of?: number | null
  /** GPUs (issue 19): whole GPUs asked for, and the device indices the current (or last) attempt holds */
  gpu?: number
  gpu_devices?: number[]
  /** named countable resources asked for (licences, FPGA slots): name -> count */
  resources?: Record<string, number>
  // --- batch workloads (issue 16) ---
  /** extra attempts after the command fails, and how many are spent */
  retries?: number
  retries_used?: number
  retry_backoff?: number
  retry_backoff_max?: number
  retry_on_exit_codes?: number[] | null
  /** attempts lost to infrastructure (bounded by max_attempts) */
  lost_attempts?: number
  /** while a retry waits: not before this time */
  not_before?: string | null
  dependency?: 'afterok' | 'afterany' | 'afternotok'
  array_id?: number | null
  array_index?: number | null
  /** username of its submitter: metadata everyone signed in sees */
  owner?: string | null
}

export interface TaskEvent {
  id: number
  time: string
  attempt: number
  from_status: TaskStatus | null
  to_status: TaskStatus
  node: number | null
  node_name: string | null
  reason: string
  message: string
}

export interface TaskDetail extends Task {
  /** batch workloads (issue 16): the tasks it waits for and those waiting for it */
  depends_on?: number[]
  dependents?: number[]
  env: Record<string, string>
  node_selector: Record<string, string>
  submitter: string | null
  log_bytes: number
  log_bytes_dropped: number
  events: TaskEvent[]
  /** whether you may see its env values and output (its owner, or an operator); others see env keys only */
  private_visible?: boolean
  /** PENDING only: where it stands in the queue */
  queue?: { position: number; owner_recent_usage: number; text: string } | null
}

/** A quota (GET /api/v1/quotas): limits by API name (cpu, mem, ..., running, pending; null = none) and `used`. */
export interface Quota {
  id: number
  user: string | null
  group: string | null
  holder: string
  used: Record<string, number>
  [limit: string]: unknown
}

export interface ClusterNode {
  id: number
  name: string
  status: NodeStatus
  draining: boolean
  labels: Record<string, string>
  cpu: number
  mem: number
  cpu_allocated: number
  mem_allocated: number
  cpu_free: number
  mem_free: number
  cpu_usage: number | null
  mem_usage: number | null
  last_heartbeat: string | null
  tasks_running: number | null
  registered_at: string | null
  /** GPUs (issue 19): capacity, allocated and free, and the devices themselves */
  gpu?: number
  gpu_allocated?: number
  gpu_free?: number
  gpu_devices?: GpuDevice[]
  /** the GPUs' usage as the agent's nvidia-smi last reported it; null without one */
  gpu_usage?: GpuUsage[] | null
  /** named countable resources: name -> capacity, allocated, free */
  resources?: Record<string, { capacity: number; allocated: number; free: number }>
}

/** One GPU of a node, as its agent detected (nvidia-smi) or declared it (index alone). */
export interface GpuDevice {
  index: number
  uuid?: string
  model?: string
  /** MiB */
  memory?: number | null
}

/** One GPU's usage (issue 19): utilisation in %, memory in MiB; null when the driver gives none. */
export interface GpuUsage {
  index: number
  util: number | null
  mem_used: number | null
  mem_total: number | null
}

/** Partial node update from heartbeats (frame "usage"): merged into the node held. */
export interface NodeUsage {
  id: number
  cpu_usage: number | null
  mem_usage: number | null
  gpu_usage?: GpuUsage[] | null
  last_heartbeat: string | null
}

export interface NodeEvent {
  time: string
  from_status: NodeStatus | null
  to_status: NodeStatus
  reason: string
  message: string
}

export interface NodeDetail extends ClusterNode {
  tasks: Task[]
  events: NodeEvent[]
  agent: Record<string, unknown>
}

export interface Page<T> {
  /** null for cursor pages */
  count: number | null
  next: string | null
  previous: string | null
  results: T[]
  /** cursor pages: pass as `cursor` for the next page (null at the end) */
  next_cursor?: string | null
}

export interface LogPage {
  task: number
  attempt: number
  attempts: number[]
  status: TaskStatus
  chunks: LogPageChunk[]
  next_after: number
  more: boolean
  first_seq?: number | null
  last_seq?: number | null
  /** lines in the attempt (docs/logs.md) */
  total_lines?: number
}

export interface LogPageChunk {
  attempt: number
  seq: number
  stream: 'stdout' | 'stderr'
  data: string
  ts: number
  line?: number
  lines?: number
  cont?: boolean
  gap?: number
}

export interface LogSearchMatch {
  attempt: number
  line: number
  stream: 'stdout' | 'stderr'
  ts: number
  text: string
}

export interface LogSearchPage {
  task: number
  q: string
  total: number
  complete: boolean
  offset: number
  matches: LogSearchMatch[]
}

/** Resources over time: used (from the agents), allocated (reserved by tasks), capacity. */
export interface UsageColumns {
  used: number[]
  allocated: number[]
  capacity: number[]
}

/** `GET /api/v1/metrics/history` for the cluster: one column per figure, `t` in unix seconds. */
export interface ClusterHistory {
  step: number
  since: string
  until: string
  series: string[]
  t: number[]
  cpu?: UsageColumns
  mem?: UsageColumns
  queue?: { pending: number[] }
  tasks?: { started: number[]; succeeded: number[]; failed: number[] }
  placement?: { count: number[]; avg_ms: Array<number | null>; max_ms: Array<number | null> }
  nodes?: { online: number[] }
}

export interface NodeHistorySeries {
  id: number
  name: string
  t: number[]
  cpu: UsageColumns
  mem: UsageColumns
}

export interface NodeHistory {
  step: number
  since: string
  until: string
  series: string[]
  nodes: NodeHistorySeries[]
}

/** One recorded bucket, as the events socket sends it (`history` frame). */
export interface HistoryPoint {
  t: number
  cpu: { used: number; allocated: number; capacity: number }
  mem: { used: number; allocated: number; capacity: number }
  queue: { pending: number }
  tasks: { started: number; succeeded: number; failed: number }
  placement: { count: number; avg_ms: number | null; max_ms: number | null }
  nodes: { online: number }
}

export interface NodeHistoryPoint {
  id: number
  t: number
  cpu: { used: number; allocated: number; capacity: number }
  mem: { used: number; allocated: number; capacity: number }
}

export type EventsFrame =
  | { type: 'hello' }
  | { type: 'history'; step: number; point: HistoryPoint; nodes: NodeHistoryPoint[] }
  | { type: 'pong' }
  | { type: 'tasks'; tasks: Task[] }
  | { type: 'nodes'; nodes: ClusterNode[] }
  | { type: 'usage'; nodes: NodeUsage[] }

export type LogFrame =
  | { type: 'status'; status: TaskStatus; attempt: number; task: Task }
  | ({ type: 'log' } & LogPageChunk)
  | { type: 'attempt'; attempt: number }

export interface SubmitRequest {
  command: string
  cpu?: number
  mem?: number
  name?: string
  priority?: number
  max_attempts?: number
  timeout?: number
  env?: Record<string, string>
  node_selector?: Record<string, string>
  // --- batch workloads (issue 16) ---
  retries?: number
  retry_backoff?: number
  retry_on_exit_codes?: number[]
  depends_on?: number[]
  dependency?: 'afterok' | 'afterany' | 'afternotok'
  array?: string
  gpu?: number
  resources?: Record<string, number>
}

/** An array (issue 16): GET /api/v1/arrays/{id} */
export interface TaskArray {
  id: number
  spec: string
  size: number
  throttle: number | null
  name: string
  submitter: string | null
  created_at: string
  counts: Record<TaskStatus, number>
}

/** The answer to an array's submission */
export interface ArrayCreated {
  array: { id: number; size: number; throttle: number | null }
  tasks: Task[]
}

/** GET /api/v1/quotas/me: who I am, my groups, the quotas over me, my fair-share usage (cpu-s) */
export interface MyQuotas {
  username: string
  groups: string[]
  quotas: Quota[]
  recent_usage: number
  half_life: number
}
