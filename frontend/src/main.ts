import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { useThemeStore } from './stores/theme'
import './style.css'

const app = createApp(App).use(createPinia()).use(router)
useThemeStore() // light or dark before the first paint
app.mount('#app')
