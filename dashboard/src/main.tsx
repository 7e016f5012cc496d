import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { App, type LiveDashboard } from './components/App';
import { DistributedProcessingService, backoffDelay } from './service/DistributedProcessingService';
import { fetchSession } from './service/session';
import { AuthController } from './state/auth';
import { DashboardStore } from './state/store';
import { initTheme } from './lib/theme';
import './styles.css';

initTheme();

/** sessionStorage, or null where the browser refuses it (the key then lasts until a reload). */
function tabStorage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const controller = new AuthController<LiveDashboard>({
  storage: tabStorage(),
  fetchSession: (key) => fetchSession(key),
  connect(key, events) {
    const service = new DistributedProcessingService({
      apiKey: key,
      onAuthError: events.authError,
      onForbidden: events.forbidden,
    });
    service.onResync(events.resync);
    const store = new DashboardStore(service);
    return {
      store,
      dispose() {
        store.stop();
        service.dispose();
      },
    };
  },
  retryDelay: (attempt) => backoffDelay(attempt),
});
controller.start();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App controller={controller} />
  </StrictMode>,
);
