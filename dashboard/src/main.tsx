import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { DistributedProcessingDashboard } from './components/DistributedProcessingDashboard';
import { DistributedProcessingService } from './service/DistributedProcessingService';
import { DashboardStore } from './state/store';
import { initTheme } from './lib/theme';
import './styles.css';

initTheme();

const service = new DistributedProcessingService();
const store = new DashboardStore(service);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <DistributedProcessingDashboard store={store} />
  </StrictMode>,
);
