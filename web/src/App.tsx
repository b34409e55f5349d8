/** Path routes (shareable links); every page but /login needs a token in the session. */
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { session } from './api/session';
import { Layout } from './components/Layout';
import { Compliance } from './pages/Compliance';
import { Dashboard } from './pages/Dashboard';
import { DeploymentDetail } from './pages/DeploymentDetail';
import { Deployments } from './pages/Deployments';
import { ImageDetail } from './pages/ImageDetail';
import { IncidentDetail } from './pages/IncidentDetail';
import { Incidents } from './pages/Incidents';
import { Images } from './pages/Images';
import { Login } from './pages/Login';
import { Network } from './pages/Network';
import { Policies } from './pages/Policies';
import { Registries } from './pages/Registries';
import { Settings } from './pages/Settings';
import { Violations } from './pages/Violations';
import { useEffect } from 'react';

function RequireToken({ children }: { children: React.ReactNode }) {
  const location = useLocation();
  if (!session.token()) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function NotFound() {
  return <><h1>Not found</h1><p>No page at this address.</p></>;
}

/** Each page names itself in the tab title. */
function useTitle() {
  const { pathname } = useLocation();
  useEffect(() => {
    const first = pathname.split('/')[1] ?? '';
    document.title = `${first ? first[0]!.toUpperCase() + first.slice(1) : 'Dashboard'} · Gatehouse`;
  }, [pathname]);
}

export function App() {
  useTitle();
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route element={<RequireToken><Layout /></RequireToken>}>
        <Route index element={<Dashboard />} />
        <Route path="deployments" element={<Deployments />} />
        <Route path="deployments/:id" element={<DeploymentDetail />} />
        <Route path="images" element={<Images />} />
        <Route path="images/:digest" element={<ImageDetail />} />
        <Route path="violations" element={<Violations />} />
        <Route path="incidents" element={<Incidents />} />
        <Route path="incidents/:id" element={<IncidentDetail />} />
        <Route path="network" element={<Network />} />
        <Route path="compliance" element={<Compliance />} />
        <Route path="registries" element={<Registries />} />
        <Route path="policies" element={<Policies />} />
        <Route path="settings" element={<Settings />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
