/** The variables that say where gitgate's kubeconfig is, as kubectl and client-go read them. */
export interface KubeEnvironment {
  KUBECONFIG?: string;
  HOME?: string;
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
}

export function kubeEnvironment(env: NodeJS.ProcessEnv = process.env): KubeEnvironment {
  const { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT } = env;
  return { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT };
}
