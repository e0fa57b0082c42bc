export function AuditScreen() {
  return <p>AuditScreen: not built yet</p>;
}
