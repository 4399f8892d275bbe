/** Test doubles: a manual animation-frame queue and a scriptable WebSocket. */

export function manualFrames() {
  let next = 1
  const callbacks = new Map<number, FrameRequestCallback>()
  return {
    raf: (cb: FrameRequestCallback) => {
      const id = next++
      callbacks.set(id, cb)
      return id
    },
    cancelRaf: (id: number) => void callbacks.delete(id),
    get pending() {
      return callbacks.size
    },
    /** run the callbacks queued so far (one frame) */
    frame(time = 0) {
      const now = [...callbacks.entries()]
      callbacks.clear()
      for (const [, cb] of now) cb(time)
    },
  }
}

export class FakeSocket {
  static instances: FakeSocket[] = []
  readyState = 0
  sent: string[] = []
  closed = false
  onopen: ((ev: Event) => void) | null = null
  onmessage: ((ev: MessageEvent) => void) | null = null
  onclose: ((ev: CloseEvent) => void) | null = null
  onerror: ((ev: Event) => void) | null = null

  constructor(readonly url: string) {
    FakeSocket.instances.push(this)
  }

  static reset(): void {
    FakeSocket.instances = []
  }

  static get last(): FakeSocket {
    return FakeSocket.instances[FakeSocket.instances.length - 1]
  }

  open(): void {
    this.readyState = 1
    this.onopen?.(new Event('open'))
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent)
  }

  send(data: string): void {
    this.sent.push(data)
  }

  close(): void {
    this.closed = true
    this.readyState = 3
  }

  /** the server (or the network) ends the connection */
  drop(code = 1006): void {
    this.readyState = 3
    this.onclose?.({ code } as CloseEvent)
  }
}
