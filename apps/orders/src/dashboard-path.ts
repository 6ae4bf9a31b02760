/** Where the orders service mounts Warren's dashboard. */
export const DASHBOARD_PATH = '/warren';
