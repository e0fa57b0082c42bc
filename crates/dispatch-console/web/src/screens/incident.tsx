export function IncidentScreen({ id }: { id: string }) {
  return <p>IncidentScreen {id}: not built yet</p>;
}
