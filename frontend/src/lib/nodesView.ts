/** How the cluster view draws its nodes: cards while they are few enough to read, else a dense grid. */
export const DENSE_ABOVE = 120
export type NodesView = 'auto' | 'cards' | 'dense'
