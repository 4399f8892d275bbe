/** Routes (history mode; the master serves index.html for every non-API path). */
import { createRouter, createWebHistory } from 'vue-router'
import { setUnauthorizedHandler } from './api/client'
import { useAuthStore } from './stores/auth'
// Views are in the main bundle (about 20 kB gzipped together): no chunk request after the
// sign-in check, so a deep link such as /tasks/42#L100 opens its log one round trip sooner.
import ClusterView from './views/ClusterView.vue'
import LoginView from './views/LoginView.vue'
import NodeView from './views/NodeView.vue'
import NotFoundView from './views/NotFoundView.vue'
import QuotasView from './views/QuotasView.vue'
import TaskDetailView from './views/TaskDetailView.vue'
import TasksView from './views/TasksView.vue'

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: 'Sign in' } },
    { path: '/', name: 'cluster', component: ClusterView, meta: { title: 'Cluster' } },
    { path: '/tasks', name: 'tasks', component: TasksView, meta: { title: 'Tasks' } },
    { path: '/tasks/:id(\\d+)', name: 'task', component: TaskDetailView, props: (r) => ({ id: Number(r.params.id) }), meta: { title: 'Task' } },
    { path: '/quotas', name: 'quotas', component: QuotasView, meta: { title: 'Quotas' } },
    { path: '/nodes/:id(\\d+)', name: 'node', component: NodeView, props: (r) => ({ id: Number(r.params.id) }), meta: { title: 'Node' } },
    { path: '/:rest(.*)*', name: 'not-found', component: NotFoundView, meta: { title: 'Not found' } },
  ],
  scrollBehavior: () => undefined,
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  const me = await auth.ensure()
  if (to.meta.public) return me && to.name === 'login' ? (typeof to.query.next === 'string' && to.query.next.startsWith('/') ? to.query.next : '/') : true
  if (!me) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  return true
})

router.afterEach((to) => {
  document.title = `${(to.meta.title as string) ?? 'mini-scheduler'} · mini-scheduler`
})

setUnauthorizedHandler(() => {
  const auth = useAuthStore()
  if (!auth.me) return
  auth.expired()
  const here = router.currentRoute.value
  if (!here.meta.public) void router.push({ name: 'login', query: { next: here.fullPath } })
})
