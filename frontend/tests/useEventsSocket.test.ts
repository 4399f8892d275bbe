import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useEventsSocket } from '../src/composables/useEventsSocket'
import { FakeSocket } from './helpers'

describe('useEventsSocket', () => {
  beforeEach(() => {
    FakeSocket.reset()
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  function setup() {
    const onTasks = vi.fn()
    const onNodes = vi.fn()
    const onUsage = vi.fn()
    const poll = vi.fn()
    const events = useEventsSocket({ url: 'ws://x/ws/events/', onTasks, onNodes, onUsage, poll, pollMs: 1000, WebSocketImpl: FakeSocket as never, random: () => 0.5 })
    return { events, onTasks, onNodes, onUsage, poll }
  }

  it('is live after hello and hands frames to the callbacks', () => {
    const { events, onTasks, onNodes, onUsage, poll } = setup()
    events.start()
    expect(events.state.value).toBe('connecting')
    FakeSocket.last.open()
    FakeSocket.last.receive({ type: 'hello' })
    expect(events.state.value).toBe('live')
    expect(poll).toHaveBeenCalledTimes(1) // catch up once
    FakeSocket.last.receive({ type: 'nodes', nodes: [{ id: 1 }] })
    FakeSocket.last.receive({ type: 'tasks', tasks: [{ id: 2 }] })
    expect(onNodes).toHaveBeenCalledWith([{ id: 1 }])
    expect(onTasks).toHaveBeenCalledWith([{ id: 2 }])
    FakeSocket.last.receive({ type: 'usage', nodes: [{ id: 1, cpu_usage: 50, mem_usage: 20, last_heartbeat: 'x' }] })
    expect(onUsage).toHaveBeenCalledWith([{ id: 1, cpu_usage: 50, mem_usage: 20, last_heartbeat: 'x' }])
  })

  it('falls back to polling when the socket drops, and reconnects with backoff', () => {
    const { events, poll } = setup()
    events.start()
    FakeSocket.last.receive({ type: 'hello' })
    poll.mockClear()
    FakeSocket.last.drop(1006)
    expect(events.state.value).toBe('polling')
    vi.advanceTimersByTime(1000)
    expect(poll).toHaveBeenCalledTimes(1) // polled while down
    expect(FakeSocket.instances).toHaveLength(2) // retried after 500 ms
    FakeSocket.last.drop(1006)
    vi.advanceTimersByTime(999)
    expect(FakeSocket.instances).toHaveLength(2) // second retry waits 1 s
    vi.advanceTimersByTime(1)
    expect(FakeSocket.instances).toHaveLength(3)
    FakeSocket.last.receive({ type: 'hello' })
    expect(events.state.value).toBe('live')
    poll.mockClear()
    vi.advanceTimersByTime(5000)
    expect(poll).not.toHaveBeenCalled() // polling stopped once live again
  })

  it('re-reads the state now and then while live (pushes only nudge)', () => {
    const poll = vi.fn()
    const reconcile = vi.fn()
    const events = useEventsSocket({ url: 'ws://x', poll, reconcile, reconcileMs: () => 2000, WebSocketImpl: FakeSocket as never })
    events.start()
    vi.advanceTimersByTime(5000)
    expect(reconcile).not.toHaveBeenCalled() // not live yet
    FakeSocket.last.receive({ type: 'hello' })
    expect(poll).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(2000)
    expect(reconcile).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(2000)
    expect(reconcile).toHaveBeenCalledTimes(2)
    events.stop()
    vi.advanceTimersByTime(10_000)
    expect(reconcile).toHaveBeenCalledTimes(2)
    expect(poll).toHaveBeenCalledTimes(1)
  })

  it('pings to keep the connection alive', () => {
    const { events } = setup()
    events.start()
    FakeSocket.last.open()
    vi.advanceTimersByTime(20_000)
    expect(FakeSocket.last.sent).toEqual(['{"type":"ping"}'])
  })

  it('stops cleanly', () => {
    const { events } = setup()
    events.start()
    const ws = FakeSocket.last
    events.stop()
    expect(ws.closed).toBe(true)
    expect(events.state.value).toBe('closed')
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })
})
